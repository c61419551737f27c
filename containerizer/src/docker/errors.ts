/** Errors of the Docker driver. Each names what failed and carries the Engine's own reason. */
import { TheseusError } from '@theseus/services/errors';

/** The Engine socket cannot be reached. Worth retrying. */
export class DockerUnavailableError extends TheseusError {
  readonly socketPath: string;
  constructor(socketPath: string, reason: string, cause?: unknown) {
    super('DOCKER_UNAVAILABLE', `Docker Engine at ${socketPath} is unavailable: ${reason}`, {
      recoverable: true,
      cause,
      hint: 'check that the Docker daemon is running and the socket is readable',
    });
    this.socketPath = socketPath;
  }
}

/** An image is absent and could not be pulled (or pulling was not allowed). */
export class ImageUnavailableError extends TheseusError {
  readonly image: string;
  readonly reason: string;
  constructor(image: string, reason: string, cause?: unknown) {
    super('IMAGE_UNAVAILABLE', `image ${image} is not available: ${reason}`, { cause });
    this.image = image;
    this.reason = reason;
  }
}

export class ContainerNotFoundError extends TheseusError {
  readonly containerId: string;
  constructor(containerId: string) {
    super('CONTAINER_NOT_FOUND', `container ${containerId} does not exist`);
    this.containerId = containerId;
  }
}

/** The Engine refused a request (bad spec, port already allocated, name in use, ...). */
export class DockerRequestError extends TheseusError {
  readonly statusCode: number | undefined;
  constructor(action: string, reason: string, statusCode: number | undefined, cause?: unknown) {
    super('DOCKER_REQUEST_FAILED', `${action} failed: ${reason}`, { cause, recoverable: statusCode === 503 });
    this.statusCode = statusCode;
  }
}
