/**
 * The shipped Mesos definitions (`containerizer/proto/<version>/`) as protobufjs roots, parsed
 * from the .proto text on first use. The bundled program replaces this module with one that
 * builds the same roots from JSON descriptors made at build time (scripts/bundle.mjs), so it
 * never parses .proto text when a slave calls it.
 */
import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export type ProtoVersion = '0.22.0' | '1.0.4';
export const PROTO_VERSIONS: readonly ProtoVersion[] = ['0.22.0', '1.0.4'];

const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

export function loadDefinitions(version: ProtoVersion): protobuf.Root {
  const includeRoot = join(PROTO_DIR, version);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(includeRoot, target);
  root.loadSync('mesos/containerizer/containerizer.proto', { keepCase: true });
  root.resolveAll();
  return root;
}
