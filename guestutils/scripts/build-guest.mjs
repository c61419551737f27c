#!/usr/bin/env node
/**
 * Builds `guestutils/bundle/theseus-guest`: discovery for any Linux container as one static file
 * (no libc, no Node), from the Go sources in guestutils/theseus-guest/ with the standard library
 * only. Run after `tsc -b` (part of `npm run build`):
 *
 *   node guestutils/scripts/build-guest.mjs [--install]
 *
 * The Go toolchain is Debian's `golang-go`; with --install it is installed when missing (as root,
 * through apt-get). Without Go and without --install the program is not built, and this says so.
 * Its defaults (etcd endpoints, key prefix, coalescing window) come from the settings schema and
 * are linked in, so they are defined in one place. The build is reproducible: no module download
 * (GOPROXY=off), no paths or build id in the binary.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const guestutils = resolve(here, '..');
const source = join(guestutils, 'theseus-guest');
const output = join(guestutils, 'bundle', 'theseus-guest');

function say(message) {
  process.stderr.write(`theseus-guest build: ${message}\n`);
}

function haveGo() {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

async function main() {
  const install = process.argv.includes('--install');
  if (!haveGo()) {
    if (!install) {
      say(
        'Go is not installed (Debian package golang-go); theseus-guest is not built. Run with --install, or apt-get install golang-go',
      );
      return 0;
    }
    if (process.getuid?.() !== 0)
      throw new Error('installing golang-go needs root (or install it yourself: apt-get install golang-go)');
    say('installing golang-go');
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'golang-go'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  const { loadSettings } = await import('@theseus/services');
  const defaults = loadSettings({ env: {} });
  const linked = {
    'main.defaultEtcdEndpoints': defaults.etcd.endpoints.join(','),
    'main.defaultEtcdPrefix': defaults.etcd.prefix,
    'main.defaultCoalesceMs': String(defaults.guest.coalesceMs),
  };
  const ldflags = ['-s', '-w', '-buildid=', ...Object.entries(linked).map(([k, v]) => `-X=${k}=${v}`)].join(' ');
  mkdirSync(dirname(output), { recursive: true });
  const temp = `${output}.tmp-${process.pid}`;
  execFileSync('go', ['build', '-trimpath', '-ldflags', ldflags, '-o', temp, '.'], {
    cwd: source,
    stdio: 'inherit',
    env: { ...process.env, CGO_ENABLED: '0', GOOS: 'linux', GOPROXY: 'off', GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
  });
  renameSync(temp, output);
  say(`built ${output}`);
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err) => {
    say(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
