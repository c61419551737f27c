/**
 * The Launch's user as this host knows it (through NSS, as the slave's `--switch_user` does), so
 * the container runs as the same uid:gid that owns the sandbox, whatever the image's passwd says.
 */
import { execFile } from 'node:child_process';
import { LaunchRefusedError } from '../protocol/errors.js';

export interface HostUser {
  name: string;
  uid: number;
  gid: number;
}

export function lookupHostUser(name: string): Promise<HostUser> {
  const unknown = () =>
    new LaunchRefusedError(
      `the launch's user ${JSON.stringify(name)} does not exist on this host`,
      "create the user, or set taskUser: image in the containerizer configuration to run tasks as their image's user",
    );
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(name)) return Promise.reject(unknown());
  return new Promise((resolve, reject) => {
    execFile('getent', ['passwd', '--', name], { timeout: 10_000 }, (err, stdout) => {
      const fields = err ? [] : (stdout.trim().split('\n')[0]?.split(':') ?? []);
      const uid = Number(fields[2]);
      const gid = Number(fields[3]);
      if (fields.length < 4 || !Number.isInteger(uid) || !Number.isInteger(gid)) {
        const code = (err as NodeJS.ErrnoException | null)?.code;
        reject(
          code === 'ENOENT'
            ? new LaunchRefusedError("cannot look up the launch's user: getent is not installed")
            : unknown(),
        );
        return;
      }
      resolve({ name, uid, gid });
    });
  });
}
