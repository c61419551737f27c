/** Marathon's 422 details: `{path, errors[]}` with array indices written as `(n)`. */
export interface ProblemEntry {
  path: string;
  errors: string[];
}

/** Collects problems by path, in the order found. */
export class Problems {
  private readonly byPath = new Map<string, string[]>();
  add(path: string, error: string): void {
    const list = this.byPath.get(path || '/') ?? [];
    if (!list.includes(error)) list.push(error);
    this.byPath.set(path || '/', list);
  }
  get empty(): boolean {
    return this.byPath.size === 0;
  }
  list(): ProblemEntry[] {
    return [...this.byPath].map(([path, errors]) => ({ path, errors }));
  }
}

/** One problem at one path, as Marathon's 422. */
export function invalid(kind: 'json' | 'object', path: string, error: string): AppValidationError {
  return new AppValidationError(kind, [{ path, errors: [error] }]);
}

/** A request Marathon would refuse with 422: `kind` picks the message. */
export class AppValidationError extends Error {
  readonly details: ProblemEntry[];
  /** `json`: a value of the wrong JSON type ("Invalid JSON"); `object`: a rule broken ("Object is not valid"). */
  readonly kind: 'json' | 'object';
  constructor(kind: 'json' | 'object', details: ProblemEntry[]) {
    super(kind === 'json' ? 'Invalid JSON' : 'Object is not valid');
    this.kind = kind;
    this.details = details;
  }
}
