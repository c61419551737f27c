/**
 * Reading a deploy document's text (YAML or JSON) into a plain value, safely:
 *  - syntax errors carry line and column;
 *  - the alias-expanded size of a YAML document is computed from the parser's events BEFORE any
 *    value is built, so a "billion laughs" document is rejected in time and memory linear in its
 *    text (js-yaml shares aliased nodes, but every later walk would expand them);
 *  - paths (`/deploy/web/ports/api`) can be located back to a line and column for error reports.
 */
import * as yaml from 'js-yaml';
import { TheseusError, type ProblemDetail } from '../errors.js';

export type DocumentFormat = 'yaml' | 'json';

/** A problem, located in the source text when possible. Lines and columns are 1-based. */
export interface SpecProblem extends ProblemDetail {
  line?: number;
  column?: number;
}

/** The text is not valid YAML or JSON. */
export class SpecSyntaxError extends TheseusError {
  readonly problems: SpecProblem[];
  constructor(message: string, problems: SpecProblem[]) {
    super('SPEC_SYNTAX', message, { hint: 'fix the document syntax at the line and column shown' });
    this.problems = problems;
  }
}

/** The document is larger than allowed once its aliases are expanded. */
export class SpecTooLargeError extends TheseusError {
  readonly problems: SpecProblem[];
  constructor(message: string, problems: SpecProblem[]) {
    super('SPEC_TOO_LARGE', message, { hint: 'write the document without deeply nested aliases, or split it' });
    this.problems = problems;
  }
}

export interface ReadSourceOptions {
  /**
   * Largest number of nodes (scalars and collections) once aliases are expanded.
   * @defaultValue 200_000
   */
  maxNodes?: number;
  /**
   * Deepest nesting of collections.
   * @defaultValue 64
   */
  maxDepth?: number;
}

export interface DocumentSource {
  value: unknown;
  /** Where a path's key (or value, for list items) starts in the text. */
  locate(path: string): { line: number; column: number } | undefined;
}

const DEFAULT_MAX_NODES = 200_000;
const DEFAULT_MAX_DEPTH = 64;

export function readDocumentSource(
  text: string,
  format: DocumentFormat,
  options: ReadSourceOptions = {},
): DocumentSource {
  return format === 'json' ? readJson(text) : readYaml(text, options);
}

function readJson(text: string): DocumentSource {
  try {
    return { value: JSON.parse(text), locate: () => undefined };
  } catch (err) {
    const message = (err as Error).message;
    const position = /position (\d+)/.exec(message);
    const where = position ? lineColumn(lineStarts(text), Number(position[1])) : yamlMarkOf(text);
    throw new SpecSyntaxError(`the document is not valid JSON: ${message}`, [{ path: '/', message, ...where }]);
  }
}

interface Frame {
  kind: 'map' | 'seq';
  path: string;
  size: number;
  anchor: string | undefined;
  /** Map: the next scalar is a key. */
  expectKey: boolean;
  key: string | undefined;
  index: number;
}

function readYaml(text: string, options: ReadSourceOptions): DocumentSource {
  const maxNodes = options.maxNodes ?? DEFAULT_MAX_NODES;
  let events: yaml.Event[];
  try {
    events = yaml.parseEvents(text, { maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH });
  } catch (err) {
    throw syntaxError(err);
  }

  scanEvents(text, events, maxNodes, undefined);

  let docs: unknown[];
  try {
    docs = yaml.constructFromEvents(events, { source: text, schema: yaml.CORE_SCHEMA, maxAliases: -1 });
  } catch (err) {
    throw syntaxError(err);
  }
  let starts: number[] | undefined;
  let positions: Map<string, number> | undefined;
  return {
    value: docs[0] ?? null,
    locate(path: string) {
      if (!positions) {
        positions = new Map();
        scanEvents(text, events, maxNodes, positions);
      }
      const offset = positions.get(path);
      if (offset === undefined) return undefined;
      starts ??= lineStarts(text);
      return lineColumn(starts, offset);
    },
  };
}

/**
 * One pass over the parser's events: counts nodes with aliases expanded (throwing past `maxNodes`)
 * and, when `positions` is given, records where each path starts. Positions are only wanted for
 * error reports, so the first pass skips them and `locate` makes a second one on demand.
 */
function scanEvents(
  text: string,
  events: yaml.Event[],
  maxNodes: number,
  positions: Map<string, number> | undefined,
): void {
  const anchorSizes = new Map<string, number>();
  const stack: Frame[] = [];
  let documents = 0;
  let total = 0;

  const childPath = (parent: Frame | undefined): string => {
    if (!parent) return '';
    if (parent.kind === 'seq') return `${parent.path}/${parent.index}`;
    return `${parent.path}/${escapePointer(parent.key ?? '')}`;
  };
  const count = (size: number): void => {
    total += size;
    if (total > maxNodes) {
      throw new SpecTooLargeError(`the document expands to more than ${maxNodes} nodes through its aliases`, [
        { path: '/', message: `more than ${maxNodes} nodes once aliases are expanded` },
      ]);
    }
  };
  /** A complete child node of the innermost collection: its size joins the parent's. */
  const childDone = (size: number): void => {
    const parent = stack[stack.length - 1];
    if (!parent) return;
    parent.size += size;
    if (parent.kind === 'seq') parent.index++;
    else parent.expectKey = !parent.expectKey;
  };
  const anchorOf = (event: { anchorStart: number; anchorEnd: number }): string | undefined =>
    event.anchorStart >= 0 ? text.slice(event.anchorStart, event.anchorEnd) : undefined;

  for (const event of events) {
    switch (event.type) {
      case yaml.EVENT_ID.DOCUMENT:
        documents++;
        if (documents > 1)
          throw new SpecSyntaxError('the body must hold exactly one YAML document', [
            { path: '/', message: 'more than one document (---)' },
          ]);
        break;
      case yaml.EVENT_ID.MAPPING:
      case yaml.EVENT_ID.SEQUENCE: {
        const parent = stack[stack.length - 1];
        if (parent?.kind === 'map' && parent.expectKey) {
          throw new SpecSyntaxError('mapping keys must be plain strings', [
            {
              path: parent.path || '/',
              message: 'a key is a collection',
              ...lineColumn(lineStarts(text), event.start),
            },
          ]);
        }
        const path = positions ? childPath(parent) : '';
        if (positions && parent?.kind === 'seq') positions.set(path, event.start);
        count(1);
        const kind = event.type === yaml.EVENT_ID.MAPPING ? 'map' : 'seq';
        stack.push({ kind, path, size: 1, anchor: anchorOf(event), expectKey: true, key: undefined, index: 0 });
        break;
      }
      case yaml.EVENT_ID.SCALAR: {
        const parent = stack[stack.length - 1];
        if (positions && parent?.kind === 'map' && parent.expectKey) {
          parent.key = yaml.getScalarValue(text, event);
          positions.set(childPath(parent), event.valueStart);
        } else if (positions && parent?.kind === 'seq') {
          positions.set(childPath(parent), event.valueStart);
        }
        count(1);
        const anchor = anchorOf(event);
        if (anchor !== undefined) anchorSizes.set(anchor, 1);
        childDone(1);
        break;
      }
      case yaml.EVENT_ID.ALIAS: {
        const name = text.slice(event.anchorStart, event.anchorEnd);
        const size = anchorSizes.get(name);
        const parent = stack[stack.length - 1];
        if (size === undefined) {
          throw new SpecSyntaxError(
            `alias *${name} refers to an anchor that is not defined before it (or to its own parent)`,
            [
              {
                path: childPath(parent) || '/',
                message: `unknown or recursive alias *${name}`,
                ...lineColumn(lineStarts(text), event.anchorStart),
              },
            ],
          );
        }
        if (parent?.kind === 'map' && parent.expectKey) parent.key = `*${name}`;
        count(size);
        childDone(size);
        break;
      }
      case yaml.EVENT_ID.POP: {
        const frame = stack.pop();
        if (frame) {
          if (frame.anchor !== undefined) anchorSizes.set(frame.anchor, frame.size);
          childDone(frame.size);
        }
        break;
      }
    }
  }
}

/** JSON is YAML's flow style: the YAML parser locates most JSON syntax errors that JSON.parse does not. */
function yamlMarkOf(text: string): { line: number; column: number } | undefined {
  try {
    yaml.parseEvents(text, { maxDepth: DEFAULT_MAX_DEPTH });
  } catch (err) {
    if (err instanceof yaml.YAMLException && err.mark) return { line: err.mark.line + 1, column: err.mark.column + 1 };
  }
  return undefined;
}

function syntaxError(err: unknown): SpecSyntaxError {
  if (err instanceof yaml.YAMLException) {
    const where = err.mark ? { line: err.mark.line + 1, column: err.mark.column + 1 } : {};
    const at = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    return new SpecSyntaxError(`the document is not valid YAML: ${err.reason}${at}`, [
      { path: '/', message: err.reason, ...where },
    ]);
  }
  return new SpecSyntaxError(`the document could not be read: ${(err as Error).message}`, [
    { path: '/', message: (err as Error).message },
  ]);
}

/** JSON-pointer escaping of one path segment. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineColumn(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}
