/**
 * What a discovery question can fail with. Each error names what was missing, so a container's
 * log says which variable, service, container or port to look at.
 */
import { NotFoundError, TheseusError } from '@theseus/services/errors';

/** A variable the deployer or the scheduler should have set is absent or empty. */
export class MissingEnvironmentError extends TheseusError {
  readonly variables: string[];
  constructor(what: string, variables: string[], hint?: string) {
    super('ENV_MISSING', `${what}: ${variables.join(' or ')} is not set`, hint === undefined ? {} : { hint });
    this.variables = variables;
  }
}

/** A variable is set but its value cannot be used. */
export class InvalidEnvironmentError extends TheseusError {
  readonly variable: string;
  constructor(variable: string, value: string, expected: string) {
    super('ENV_INVALID', `${variable}=${JSON.stringify(value)} is not ${expected}`);
    this.variable = variable;
  }
}

/** No record of that task in that service. */
export class ContainerNotFoundError extends NotFoundError {
  readonly service: string;
  readonly container: string;
  constructor(namespace: string, service: string, container: string) {
    super(
      `container ${JSON.stringify(container)} of service ${JSON.stringify(service)} in environment ${JSON.stringify(namespace)}`,
      {
        hint: 'the container is not running, or not registered yet',
      },
    );
    this.service = service;
    this.container = container;
  }
}

/** The instance, or this container, has no port of that name (or no host port for it). */
export class PortNotFoundError extends NotFoundError {
  readonly port: string;
  constructor(port: string, of: string, detail?: string) {
    super(`port ${JSON.stringify(port)} of ${of}${detail ? ` (${detail})` : ''}`);
    this.port = port;
  }
}

/** A service has fewer running instances than the caller needs. */
export class NotEnoughNodesError extends TheseusError {
  readonly service: string;
  readonly found: number;
  readonly minimum: number;
  constructor(namespace: string, service: string, found: number, minimum: number, labels: readonly string[]) {
    const which = `service ${JSON.stringify(service)}${labels.length ? ` with labels ${labels.join(',')}` : ''} in environment ${JSON.stringify(namespace)}`;
    super(
      found === 0 ? 'NOT_FOUND' : 'NOT_ENOUGH_NODES',
      found === 0
        ? `${which} has no running instances`
        : `${which} has ${found} running instance${found === 1 ? '' : 's'}, fewer than the ${minimum} required`,
    );
    this.service = service;
    this.found = found;
    this.minimum = minimum;
  }
}
