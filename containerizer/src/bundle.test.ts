/**
 * The bundled program (scripts/bundle.mjs, what bin/theseus-containerizer.js runs) against the
 * compiled modules it is built from: the pre-parsed, pruned definitions give the same records, and
 * loading every module a call uses brings in neither gRPC nor ssh2.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import * as compiled from './protocol/messages.js';
import { unframe } from './protocol/framing.js';

const SCRIPT = fileURLToPath(new URL('../scripts/bundle.mjs', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../bundle/theseus-containerizer.cjs', import.meta.url));
const FIXTURE = new URL('../../conformance/mesos/fixtures/launch-0.22-docs-example.recordio', import.meta.url);

interface BundledProgram {
  run(command: string, argv: string[]): Promise<number>;
  warmUp(): Promise<void>;
  messages(): Promise<typeof compiled>;
}

let bundle: BundledProgram;

function thrownMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a failure');
}
const loadedFromDisk = () => Object.keys(createRequire(import.meta.url).cache);

describe('the bundled containerizer program', () => {
  before(() => {
    // rebuilt from the compiled modules (the build is deterministic: a program running meanwhile sees the same file)
    execFileSync(process.execPath, [SCRIPT], { stdio: 'pipe' });
    const script = new vm.Script(Module.wrap(readFileSync(BUNDLE, 'utf8')), { filename: BUNDLE });
    const module = { exports: {} as BundledProgram };
    script
      .runInThisContext()
      .call(module.exports, module.exports, createRequire(BUNDLE), module, BUNDLE, dirname(BUNDLE));
    bundle = module.exports;
  });

  it('decodes the real Launch record and every other input as the compiled modules do', async () => {
    const bundled = await bundle.messages();
    const launch = unframe(readFileSync(FIXTURE));
    assert.deepEqual(bundled.decodeLaunch(launch), compiled.decodeLaunch(launch));
    const id = { container_id: { value: 'c-1' } };
    const inputs = {
      usage: compiled.encodeMessage('mesos.containerizer.Usage', id),
      wait: compiled.encodeMessage('mesos.containerizer.Wait', id),
      destroy: compiled.encodeMessage('mesos.containerizer.Destroy', id),
      update: compiled.encodeMessage('mesos.containerizer.Update', {
        ...id,
        resources: [
          { name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 } },
          { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31002 }] } },
        ],
      }),
    } as const;
    for (const [command, record] of Object.entries(inputs)) {
      assert.deepEqual(
        bundled.decodeInput(command as keyof typeof inputs, record),
        compiled.decodeInput(command as keyof typeof inputs, record),
        command,
      );
    }
    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert.throws(() => bundled.decodeInput('wait', garbage), {
      message: thrownMessage(() => compiled.decodeInput('wait', garbage)),
    });
  });

  it('encodes every answer byte for byte as the compiled modules do', async () => {
    const bundled = await bundle.messages();
    for (const generation of ['0.22', '1.0'] as const) {
      for (const fields of [
        { killed: false, message: 'container exited with code 3', status: 3 << 8 },
        { killed: true, message: 'oom', status: 137 << 8 },
      ]) {
        assert.deepEqual(
          bundled.encodeTermination(fields, generation),
          compiled.encodeTermination(fields, generation),
          `${generation} ${fields.message}`,
        );
      }
    }
    const stats = {
      timestamp: 1700000000.25,
      cpus_user_time_secs: 1.5,
      cpus_system_time_secs: 0.25,
      cpus_limit: 0.5,
      mem_rss_bytes: 123456789,
      mem_limit_bytes: 268435456,
    };
    assert.deepEqual(bundled.encodeResourceStatistics(stats), compiled.encodeResourceStatistics(stats));
    assert.deepEqual(bundled.encodeContainers(['a', 'b-2']), compiled.encodeContainers(['a', 'b-2']));
  });

  it('loads no gRPC, ssh2 or dockerode file from node_modules for what a call runs', async () => {
    await bundle.warmUp();
    const fromNodeModules = loadedFromDisk().filter((path) =>
      /[\\/]node_modules[\\/](@grpc|ssh2|dockerode|docker-modem)[\\/]/.test(path),
    );
    assert.deepEqual(fromNodeModules, []);
  });
});
