/** Marathon's answers as typed errors that keep its status, message and details. */
import { TheseusError, type ProblemDetail } from '../errors.js';

export class MarathonError extends TheseusError {
  /** HTTP status, or undefined when no answer came back. */
  readonly status: number | undefined;
  /** Marathon's response body, parsed. */
  readonly body: unknown;
  constructor(
    code: string,
    message: string,
    status: number | undefined,
    body: unknown,
    options: { recoverable?: boolean; hint?: string; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.status = status;
    this.body = body;
  }
}

/** No Marathon URL answered, or it answered 5xx. Retry later. */
export class MarathonUnavailableError extends MarathonError {
  constructor(message: string, status?: number, body?: unknown, cause?: unknown) {
    super('MARATHON_UNAVAILABLE', message, status, body, {
      recoverable: true,
      cause,
      hint: 'check MARATHON_URL and that Marathon is running',
    });
  }
}

/** 409 "App is locked by one or more deployments": retry once they finish, or use force. */
export class MarathonLockedError extends MarathonError {
  readonly deploymentIds: string[];
  constructor(message: string, deploymentIds: string[], body: unknown) {
    super('MARATHON_APP_LOCKED', message, 409, body, { recoverable: true });
    this.deploymentIds = deploymentIds;
  }
}

/** 409 without deployments: the app already exists. */
export class MarathonConflictError extends MarathonError {
  constructor(message: string, body: unknown) {
    super('MARATHON_CONFLICT', message, 409, body);
  }
}

/** 422 (and 400 Invalid JSON): Marathon rejected the definition; `problems` has its details. */
export class MarathonValidationError extends MarathonError {
  readonly problems: ProblemDetail[];
  constructor(message: string, status: number, problems: ProblemDetail[], body: unknown) {
    super('MARATHON_INVALID', message, status, body);
    this.problems = problems;
  }
  override describe(): string {
    return [super.describe(), ...this.problems.map((p) => `  ${p.path}: ${p.message}`)].join('\n');
  }
}

export class MarathonNotFoundError extends MarathonError {
  constructor(message: string, body: unknown) {
    super('MARATHON_NOT_FOUND', message, 404, body);
  }
}

export class MarathonAuthError extends MarathonError {
  constructor(message: string, status: number, body: unknown) {
    super('MARATHON_UNAUTHORIZED', message, status, body, { hint: 'check MARATHON_CREDENTIALS or MARATHON_TOKEN' });
  }
}

/** Turns an HTTP error answer into the matching error. */
export function marathonErrorFor(status: number, body: unknown, what: string): MarathonError {
  const obj = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const message =
    typeof obj.message === 'string'
      ? obj.message
      : typeof body === 'string' && body
        ? body.slice(0, 300)
        : `HTTP ${status}`;
  const text = `${what}: ${message}`;
  if (status === 409) {
    const deployments = Array.isArray(obj.deployments)
      ? obj.deployments
          .map((d) => (typeof d === 'string' ? d : String((d as { id?: unknown }).id ?? '')))
          .filter(Boolean)
      : undefined;
    return deployments ? new MarathonLockedError(text, deployments, body) : new MarathonConflictError(text, body);
  }
  if (status === 422 || (status === 400 && obj.details !== undefined))
    return new MarathonValidationError(text, status, detailsOf(obj), body);
  if (status === 404) return new MarathonNotFoundError(text, body);
  if (status === 401 || status === 403) return new MarathonAuthError(text, status, body);
  if (status >= 500) return new MarathonUnavailableError(text, status, body);
  return new MarathonError('MARATHON_ERROR', text, status, body);
}

/** Marathon's `details` in every shape it has had: [{path, errors[]}], a string, or pre-1.0 errors[{attribute, error}]. */
function detailsOf(obj: Record<string, unknown>): ProblemDetail[] {
  const details = obj.details;
  if (typeof details === 'string') return [{ path: '/', message: details }];
  if (Array.isArray(details)) {
    return details.flatMap((d: { path?: unknown; attribute?: unknown; errors?: unknown; error?: unknown }) => {
      const path = String(d.path ?? d.attribute ?? '/');
      const errors = Array.isArray(d.errors) ? d.errors.map(String) : [String(d.error ?? 'invalid')];
      return errors.map((message) => ({ path, message }));
    });
  }
  if (Array.isArray(obj.errors)) {
    return obj.errors.map((e: { attribute?: unknown; error?: unknown }) => ({
      path: String(e.attribute ?? '/'),
      message: String(e.error ?? 'invalid'),
    }));
  }
  return [];
}
