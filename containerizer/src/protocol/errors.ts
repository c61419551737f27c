/** Errors of the containerizer program: each becomes one line on stderr and a non-zero exit. */
import { TheseusError } from '@theseus/services/errors';

/** The record on stdin is missing, truncated, or not the expected message. */
export class BadRecordError extends TheseusError {
  constructor(message: string, cause?: unknown) {
    super('BAD_RECORD', message, { cause });
  }
}

/** The Launch asks for something this containerizer cannot or may not do. */
export class LaunchRefusedError extends TheseusError {
  constructor(message: string, hint?: string) {
    super('LAUNCH_REFUSED', message, hint === undefined ? {} : { hint });
  }
}

/** A call names a container this containerizer has no state for. */
export class UnknownContainerError extends TheseusError {
  readonly containerId: string;
  constructor(containerId: string) {
    super('UNKNOWN_CONTAINER', `no container ${containerId} was launched here`);
    this.containerId = containerId;
  }
}

/** The state recorded for a container names something that is not that container. */
export class StateMismatchError extends TheseusError {
  constructor(containerId: string, problem: string) {
    super(
      'STATE_MISMATCH',
      `state of container ${containerId} does not match the Docker Engine: ${problem}; nothing was stopped or removed`,
    );
  }
}
