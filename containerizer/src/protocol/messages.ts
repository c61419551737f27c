/**
 * The `mesos.containerizer` messages, from the .proto files shipped in `containerizer/proto/`
 * (see definitions.ts). Input is decoded with the 0.22.0 definitions (they read 0.19 to 1.0
 * slaves' records); `Termination` is encoded for the slave generation in use.
 */
import type protobuf from 'protobufjs';
import { BadRecordError } from './errors.js';
import { loadDefinitions, type ProtoVersion } from './definitions.js';
import type { MesosGeneration, MesosLaunch, ResourceStatistics, TerminationFields } from './types.js';

const roots = new Map<ProtoVersion, protobuf.Root>();

function root(version: ProtoVersion): protobuf.Root {
  let loaded = roots.get(version);
  if (!loaded) {
    loaded = loadDefinitions(version);
    roots.set(version, loaded);
  }
  return loaded;
}

const TO_OBJECT: protobuf.IConversionOptions = {
  enums: String,
  longs: Number,
  bytes: String,
  defaults: false,
  arrays: true,
};

/** Input messages by subcommand. */
export const INPUT_TYPES = {
  launch: 'mesos.containerizer.Launch',
  update: 'mesos.containerizer.Update',
  usage: 'mesos.containerizer.Usage',
  wait: 'mesos.containerizer.Wait',
  destroy: 'mesos.containerizer.Destroy',
} as const;
export type InputCommand = keyof typeof INPUT_TYPES;
const TERMINATION = 'mesos.containerizer.Termination';
const CONTAINERS = 'mesos.containerizer.Containers';
const RESOURCE_STATISTICS = 'mesos.ResourceStatistics';

/** Every message the program reads or writes, by definitions version (the bundled program keeps only these and what they use). */
export const PROGRAM_MESSAGES: Record<ProtoVersion, readonly string[]> = {
  '0.22.0': [...Object.values(INPUT_TYPES), TERMINATION, CONTAINERS, RESOURCE_STATISTICS],
  // a 1.0 slave's Launch carries the task's kill policy
  '1.0.4': [TERMINATION, INPUT_TYPES.launch],
};

/** Decodes one record's payload as the message `command` takes; a clear error when it is not one. */
export function decodeInput(
  command: InputCommand,
  payload: Uint8Array,
  version: ProtoVersion = '0.22.0',
): Record<string, unknown> {
  const typeName = INPUT_TYPES[command];
  const type = root(version).lookupType(typeName);
  let message: protobuf.Message;
  try {
    message = type.decode(payload);
  } catch (err) {
    throw new BadRecordError(`${command}: stdin is not a ${typeName} record (${(err as Error).message})`, err);
  }
  const problem = type.verify(message);
  if (problem) throw new BadRecordError(`${command}: stdin is not a valid ${typeName} record (${problem})`);
  const object = type.toObject(message, TO_OBJECT);
  const id = (object.container_id as { value?: unknown } | undefined)?.value;
  if (typeof id !== 'string' || id.length === 0)
    throw new BadRecordError(`${command}: the ${typeName} record has no container_id`);
  return object;
}

export function decodeLaunch(payload: Uint8Array, version: ProtoVersion = '0.22.0'): MesosLaunch {
  return decodeInput('launch', payload, version) as unknown as MesosLaunch;
}

/** `Termination` as the given slave generation parses it. 0.19-0.25 require `killed` and `message`. */
export function encodeTermination(fields: TerminationFields, generation: MesosGeneration): Uint8Array {
  if (generation === '0.22') {
    const type = root('0.22.0').lookupType(TERMINATION);
    return type
      .encode(type.fromObject({ killed: fields.killed, message: fields.message, status: fields.status }))
      .finish();
  }
  const type = root('1.0.4').lookupType(TERMINATION);
  const object: Record<string, unknown> = { message: fields.message, status: fields.status };
  if (fields.killed) {
    object.state = 'TASK_FAILED';
    object.reasons = ['REASON_CONTAINER_LIMITATION_MEMORY'];
  }
  return type.encode(type.fromObject(object)).finish();
}

export function encodeResourceStatistics(stats: ResourceStatistics): Uint8Array {
  const type = root('0.22.0').lookupType(RESOURCE_STATISTICS);
  return type.encode(type.fromObject(stats)).finish();
}

export function encodeContainers(ids: string[]): Uint8Array {
  const type = root('0.22.0').lookupType(CONTAINERS);
  return type.encode(type.fromObject({ containers: ids.map((value) => ({ value })) })).finish();
}

/** Encodes any message of the shipped definitions (tests and tools build slave records with it). */
export function encodeMessage(
  typeName: string,
  object: Record<string, unknown>,
  version: ProtoVersion = '0.22.0',
): Uint8Array {
  const type = root(version).lookupType(typeName);
  const message = type.fromObject(object);
  const problem = type.verify(message);
  if (problem) throw new BadRecordError(`not a valid ${typeName}: ${problem}`);
  return type.encode(message).finish();
}

/** Decodes any message of the shipped definitions into a plain object. */
export function decodeMessage(
  typeName: string,
  payload: Uint8Array,
  version: ProtoVersion = '0.22.0',
): Record<string, unknown> {
  const type = root(version).lookupType(typeName);
  return type.toObject(type.decode(payload), TO_OBJECT);
}
