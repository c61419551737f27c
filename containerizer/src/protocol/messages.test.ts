import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  decodeLaunch,
  decodeMessage,
  encodeContainers,
  encodeMessage,
  encodeResourceStatistics,
  encodeTermination,
  decodeInput,
} from './messages.js';
import { frame, unframe } from './framing.js';
import { BadRecordError } from './errors.js';

const CONFORMANCE = new URL('../../../conformance/mesos/', import.meta.url);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Git blob ids of apache/mesos `include/mesos/<file>` at each tag (`git rev-parse <tag>:include/mesos/<file>`). */
const UPSTREAM_BLOBS: Record<string, string> = {
  '0.22.0/mesos/mesos.proto': '9df972d750ce1e4a81d2e96cc508d6f83cad2fc8',
  '0.22.0/mesos/containerizer/containerizer.proto': '95c84dfbecef28ca9a220a98293c5fc6215a692f',
  '1.0.4/mesos/mesos.proto': 'a2dbfd50f309deb98aae2353982ae34ff951113f',
  '1.0.4/mesos/containerizer/containerizer.proto': '4d8e82791c263c6578bf06f4e94ebe853042be59',
};

/** The id Git gives a file's content: SHA-1 of `blob <length>\0<content>`. */
function gitBlobId(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

describe('Mesos messages against the conformance fixtures', () => {
  it('ships the 0.22.0 and 1.0.4 protos byte for byte as Mesos published them', () => {
    for (const [file, blob] of Object.entries(UPSTREAM_BLOBS)) {
      const shipped = readFileSync(new URL(`../../proto/${file}`, import.meta.url));
      assert.equal(gitBlobId(shipped), blob, file);
      assert.match(shipped.toString('utf8'), /Licensed to the Apache Software Foundation/);
    }
  });

  it('gives Launch the field numbers of Mesos 0.22.0', () => {
    const launch = encodeMessage('mesos.containerizer.Launch', {
      container_id: { value: 'c' },
      directory: '/d',
      user: 'u',
      slave_pid: 'p',
      checkpoint: true,
    });
    // container_id = 1, directory = 4, user = 5, slave_pid = 7, checkpoint = 8 (include/mesos/containerizer/containerizer.proto)
    assert.equal(hex(launch), '0a030a0163' + '22022f64' + '2a0175' + '3a0170' + '4001');
  });

  it('decodes the real framed Launch record to its reference decoding', () => {
    const record = readFileSync(new URL('fixtures/launch-0.22-docs-example.recordio', CONFORMANCE));
    const expected = JSON.parse(
      readFileSync(new URL('fixtures/launch-0.22-docs-example.json', CONFORMANCE), 'utf8'),
    ) as Record<string, unknown>;
    assert.equal(record.readUInt32LE(0), 576);
    const launch = decodeLaunch(unframe(record));
    // the reference decoding writes 64-bit values as strings and leaves out empty repeated fields
    const normalised = JSON.parse(
      JSON.stringify(launch, (_k, v: unknown) =>
        Array.isArray(v) && v.length === 0
          ? undefined
          : typeof v === 'number' && Number.isInteger(v) && v > 1e4
            ? String(v)
            : v,
      ),
    ) as unknown;
    assert.deepEqual(normalised, expected);
  });

  it('encodes answers byte for byte as the reference encodings', () => {
    assert.equal(
      hex(frame(encodeTermination({ killed: false, message: '', status: 256 }, '0.22'))),
      '07000000' + '0800' + '1200' + '188002',
    );
    assert.equal(
      hex(frame(encodeTermination({ killed: false, message: '', status: 256 }, '1.0'))),
      '05000000' + '1200' + '188002',
    );
    assert.equal(hex(frame(encodeContainers([]))), '00000000');
    assert.equal(hex(frame(encodeContainers(['abc']))), '07000000' + '0a050a03616263');
    assert.equal(hex(frame(encodeResourceStatistics({ timestamp: 1 }))), '09000000' + '09000000000000f03f');
  });

  it('tells a 1.0 slave about an OOM kill through reasons', () => {
    const bytes = encodeTermination({ killed: true, message: 'oom', status: 137 << 8 }, '1.0');
    const decoded = decodeMessage('mesos.containerizer.Termination', bytes, '1.0.4');
    assert.deepEqual(decoded.reasons, ['REASON_CONTAINER_LIMITATION_MEMORY']);
    assert.equal(decoded.status, 137 << 8);
    const old = decodeMessage(
      'mesos.containerizer.Termination',
      encodeTermination({ killed: true, message: 'oom', status: 137 << 8 }, '0.22'),
    );
    assert.equal(old.killed, true);
  });

  it('refuses garbage, a missing container id and a truncated frame', () => {
    assert.throws(() => decodeInput('wait', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), BadRecordError);
    assert.throws(
      () => decodeInput('usage', encodeMessage('mesos.ResourceStatistics', { timestamp: 5 })),
      BadRecordError,
    );
    assert.throws(() => unframe(Buffer.from('0a000000' + '0a02', 'hex')), /truncated/);
  });
});
