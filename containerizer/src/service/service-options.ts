/** Options of the resident containerizer service (`theseus-containerizer serve`). */
export interface ServiceOptions {
  /** The Unix socket to listen on (made 0600; its directory should be the owner's alone). */
  socketPath: string;
  /** Seconds without a call after which the service leaves; 0 never. Default 600. */
  idleSeconds: number;
  /** argv that runs the program in its own process (the host executor's `--override`). */
  self: string[];
  /** Where the service's own lines go (its log file when the client started it). */
  log: (line: string) => void;
  /**
   * Whether the program this service runs is still the one installed (checked per call). When it
   * is not, the service stops taking calls and tells the client to call again: the client then
   * starts a service of the installed program. Default: always current.
   */
  isCurrent?: () => boolean;
}

export const DEFAULT_IDLE_SECONDS = 600;
