/** The Docker driver (shared with the engine) and the Mesos external containerizer. */
export { DockerDriver, cpuShares, type DockerDriverOptions, type DriverLog } from './docker/driver.js';
export { RotatingFile, rotatingStream, sandboxOutput, type OutputLimits } from './sandbox/output.js';
export { readCgroupUsage, type CgroupUsage } from './docker/cgroup-usage.js';
export {
  DockerUnavailableError,
  ImageUnavailableError,
  ContainerNotFoundError,
  DockerRequestError,
} from './docker/errors.js';
export type {
  ContainerSpec,
  StartedContainer,
  ContainerExit,
  ContainerUsage,
  ContainerLimits,
  ContainerDetails,
  ListedContainer,
  PortBinding,
  VolumeMount,
  NetworkMode,
  RegistryAuth,
  EnsureImageOptions,
  ExecOptions,
  ExecResult,
} from './docker/types.js';
