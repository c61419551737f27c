import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, LockTimeoutError, processAlive } from './lock.js';

const dir = mkdtempSync(join(tmpdir(), 'theseus-lock-'));

describe('lock files', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('excludes a second holder until released', async () => {
    const path = join(dir, 'a');
    const first = await acquireLock(path, 0);
    assert.equal(statSync(path).mode & 0o777, 0o600, 'only its owner can read or write a lock');
    await assert.rejects(acquireLock(path, 50), LockTimeoutError);
    const waiting = acquireLock(path, 5000);
    first.release();
    const second = await waiting;
    assert.equal(readFileSync(path, 'utf8').split(' ')[0], String(process.pid));
    second.release();
    assert.equal(existsSync(path), false);
  });

  it('takes over a lock whose holder died (the slave SIGKILLs calls)', async () => {
    const path = join(dir, 'b');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(dead.stdout.toString());
    assert.equal(processAlive(deadPid), false);
    writeFileSync(path, `${deadPid} 12345`);
    const lock = await acquireLock(path, 0);
    assert.equal(readFileSync(path, 'utf8').split(' ')[0], String(process.pid));
    lock.release();
  });
});
