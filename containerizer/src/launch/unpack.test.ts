import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkEntries, type ArchiveEntry } from './unpack.js';

const file = (path: string, size = 1): ArchiveEntry => ({ path, type: 'file', size });
const dir = (path: string): ArchiveEntry => ({ path, type: 'dir', size: 0 });
const link = (path: string, linkpath: string): ArchiveEntry => ({ path, type: 'symlink', linkpath, size: 0 });
const hard = (path: string, linkpath: string): ArchiveEntry => ({ path, type: 'link', linkpath, size: 0 });

describe('archive entries are checked as a whole before anything is unpacked', () => {
  it('accepts links that stay inside, however they are chained, and counts the content', () => {
    const bytes = checkEntries([
      dir('./app/'),
      dir('app/v1/'),
      file('app/v1/run.sh', 100),
      link('app/current', 'v1'),
      link('app/run', 'current/run.sh'),
      link('lib.so', 'lib.so.1'),
      link('lib.so.1', 'lib.so.1.2'),
      file('lib.so.1.2', 10),
      link('top', 'app/current/../v1'),
      hard('app/v1/copy.sh', './app/v1/run.sh'),
      dir('app/'),
    ]);
    assert.equal(bytes, 11 * 512 + 110);
  });

  it('refuses whatever could resolve outside, even only once links are followed', () => {
    const refusals: Array<[ArchiveEntry[], RegExp]> = [
      [[file('/etc/cron.d/x')], /is an absolute path/],
      [[file('a/../../x')], /climbs out with "\.\."/],
      [[file('./')], /names nothing/],
      [[link('l', '/etc')], /points to the absolute path \/etc/],
      [[link('l', '..')], /points outside the archive/],
      [[dir('d/'), link('d/l', '../..')], /points outside the archive/],
      [[link('a', '.'), link('b', 'a/..')], /symlink b points outside the archive/],
      [[dir('d/'), link('a', 'd'), link('b', 'a/../..')], /symlink b points outside the archive/],
      [[link('x', 'y'), link('y', 'x')], /too many levels of links/],
      [[link('l', 'd'), dir('d/'), file('l/f')], /entry l\/f lies under the symlink l/],
      [[file('f'), file('f/g')], /lies under the file f/],
      [[file('f'), link('f', 'g')], /entry f appears twice/],
      [[hard('h', '../../etc/passwd')], /climbs out/],
      [[hard('h', 'later'), file('later')], /not a file before it/],
      [[link('l', ''), file('x')], /has no target/],
    ];
    for (const [entries, reason] of refusals)
      assert.throws(() => checkEntries(entries), reason, JSON.stringify(entries));
  });
});
