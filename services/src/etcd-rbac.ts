/**
 * etcd's own access control for one Theseus installation (one key prefix): a user and a role per
 * party, each allowed only what it does.
 *
 *   subscriber  read/write the endpoint records and its leader election
 *   deployer    read the endpoint records (the dashboard)
 *   container   read the endpoint records (guestutils, the watcher)
 *
 * `applyEtcdRbac` makes etcd match this and turns authentication on; running it again changes
 * nothing but passwords that were changed.
 */
import {
  Election,
  Etcd3,
  EtcdPermissionDeniedError,
  EtcdRoleNotFoundError,
  EtcdUserNotFoundError,
  Range,
  type IPermissionRequest,
} from 'etcd3';
import { EtcdLayout } from './endpoints/keys.js';

export type EtcdParty = 'subscriber' | 'deployer' | 'container';

export interface EtcdRbacOptions {
  /** The installation's key prefix. */
  prefix: string;
  /** etcd's root user's password (authentication needs a root user). */
  rootPassword: string;
  /** User name and password of each party. */
  users: Record<EtcdParty, { name: string; password: string }>;
}

/** The role of a party's user, named after the user. */
export function roleName(user: string): string {
  return `${user}-role`;
}

/** What each party may do, as etcd permissions. */
export function partyPermissions(prefix: string): Record<EtcdParty, IPermissionRequest[]> {
  const layout = new EtcdLayout(prefix);
  const endpoints = Range.prefix(layout.allEndpoints());
  // etcd3's Election keeps its keys under `election/<name>/`.
  const election = Range.prefix(`${Election.prefix}/${layout.election('subscriber')}/`);
  const read = { permission: 'Read' as const, range: endpoints };
  return {
    subscriber: [
      { permission: 'Readwrite', range: endpoints },
      { permission: 'Readwrite', range: election },
    ],
    deployer: [read],
    container: [read],
  };
}

/**
 * Creates the roles and users (or brings their permissions and passwords up to date) and enables
 * authentication. `connect` opens a client, as root once authentication is on.
 */
export async function applyEtcdRbac(
  connect: (asRoot: boolean) => Etcd3,
  options: EtcdRbacOptions,
): Promise<{ authWasEnabled: boolean }> {
  let client = connect(false);
  let authWasEnabled = false;
  try {
    try {
      await client.getRoles();
    } catch (err) {
      // Authentication is on: refused as nobody (or as a client certificate's unknown name).
      if (!(
        err instanceof EtcdPermissionDeniedError ||
        err instanceof EtcdUserNotFoundError ||
        /user name is empty/.test((err as Error).message)
      ))
        throw err;
      client.close();
      client = connect(true);
      authWasEnabled = true;
    }
    await ensureUser(client, 'root', options.rootPassword, 'root', []);
    const permissions = partyPermissions(options.prefix);
    for (const party of ['subscriber', 'deployer', 'container'] as const) {
      const user = options.users[party];
      await ensureUser(client, user.name, user.password, roleName(user.name), permissions[party]);
    }
    if (!authWasEnabled) await client.auth.authEnable();
    return { authWasEnabled };
  } finally {
    client.close();
  }
}

async function ensureUser(
  client: Etcd3,
  name: string,
  password: string,
  role: string,
  permissions: IPermissionRequest[],
): Promise<void> {
  try {
    await client.role(role).permissions();
  } catch (err) {
    if (!(err instanceof EtcdRoleNotFoundError)) throw err;
    await client.role(role).create();
  }
  if (permissions.length) await client.role(role).grant(permissions);
  let roles: string[];
  try {
    roles = (await client.user(name).roles()).map((r) => r.name);
    await client.user(name).setPassword(password);
  } catch (err) {
    if (!(err instanceof EtcdUserNotFoundError)) throw err;
    await client.user(name).create(password);
    roles = [];
  }
  if (!roles.includes(role)) await client.user(name).addRole(role);
}
