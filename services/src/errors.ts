/**
 * Typed errors shared by every Theseus part.
 *
 * Each error has a stable `code`, a message that says what was wrong, and where useful a `hint` that
 * says what to do. `recoverable` marks errors worth retrying (network faults, 5xx, locked apps):
 * retry loops ask `isRecoverable(err)` instead of matching on classes.
 */

const THESEUS_ERROR = Symbol.for('theseus.error');

export interface ProblemDetail {
  /** Where the problem is: a JSON-pointer-like path (`/deploy/web/ports/api`) or a setting name. */
  path: string;
  message: string;
}

export class TheseusError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly recoverable: boolean;

  constructor(code: string, message: string, options: { hint?: string; recoverable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.recoverable = options.recoverable ?? false;
    Object.setPrototypeOf(this, new.target.prototype);
  }

  /** Works across duplicated copies of this package, where `instanceof` would not. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === TheseusError) return typeof value === 'object' && value !== null && THESEUS_ERROR in value;
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  get [THESEUS_ERROR](): true {
    return true;
  }

  /** One line for a person: the message, then the hint. */
  describe(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

/** Input that does not satisfy a schema or rule. Carries every problem found, each with its path. */
export class ValidationError extends TheseusError {
  readonly problems: ProblemDetail[];
  constructor(message: string, problems: ProblemDetail[], options: { hint?: string } = {}) {
    super('VALIDATION_FAILED', message, options);
    this.problems = problems;
  }

  override describe(): string {
    const lines = this.problems.map((p) => `  ${p.path || '/'}: ${p.message}`);
    return [super.describe(), ...lines].join('\n');
  }
}

/** A setting is missing or invalid. Raised at start, before anything runs. */
export class ConfigError extends TheseusError {
  readonly setting: string;
  constructor(setting: string, message: string, hint?: string) {
    super('CONFIG_INVALID', `${setting}: ${message}`, hint === undefined ? {} : { hint });
    this.setting = setting;
  }
}

/** A name (service, namespace, label, app id, task id) that cannot be used. */
export class InvalidNameError extends TheseusError {
  readonly kind: string;
  readonly value: string;
  constructor(kind: string, value: string, reason: string) {
    super('INVALID_NAME', `invalid ${kind} ${JSON.stringify(value)}: ${reason}`);
    this.kind = kind;
    this.value = value;
  }
}

/** Something looked up does not exist. `what` names it, e.g. `service "web"`. */
export class NotFoundError extends TheseusError {
  readonly what: string;
  constructor(what: string, options: { hint?: string } = {}) {
    super('NOT_FOUND', `${what} not found`, options);
    this.what = what;
  }
}

/** etcd could not be reached or answered with an error. */
export class EtcdUnavailableError extends TheseusError {
  constructor(message: string, cause?: unknown) {
    super('ETCD_UNAVAILABLE', message, {
      recoverable: true,
      cause,
      hint: 'check ETCD_ENDPOINTS and that etcd is running',
    });
  }
}

export function isRecoverable(err: unknown): boolean {
  return err instanceof TheseusError && err.recoverable;
}

/** A one-line description of any thrown value, safe to show a user (no stack). */
export function describeError(err: unknown): string {
  if (err instanceof TheseusError) return err.describe();
  if (err instanceof Error) return err.message;
  return String(err);
}
