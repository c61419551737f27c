/**
 * Placement constraints written readably (`hostname: UNIQUE`, `rack: GROUP_BY 3`,
 * `zone: LIKE us-east-.*`) and their Marathon form (`["rack", "GROUP_BY", "3"]`, values as strings).
 */
import { CONSTRAINT_OPERATORS, type ConstraintOperator, type ConstraintSpec } from './schema.js';

const FIELD = /^@?[A-Za-z0-9_][A-Za-z0-9_.\-]*$/;

/** Parses `OPERATOR [value]` for `field`; returns the constraint or the reason it is invalid. */
export function parseConstraint(field: string, text: string): ConstraintSpec | string {
  if (!FIELD.test(field))
    return `invalid constraint field ${JSON.stringify(field)} (an agent attribute, hostname, @region or @zone)`;
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  const word = (space === -1 ? trimmed : trimmed.slice(0, space)).toUpperCase();
  const value = space === -1 ? undefined : trimmed.slice(space).trim();
  if (!(CONSTRAINT_OPERATORS as readonly string[]).includes(word)) {
    return `unknown constraint operator ${JSON.stringify(word)} (one of ${CONSTRAINT_OPERATORS.join(', ')})`;
  }
  const operator = word as ConstraintOperator;
  switch (operator) {
    case 'UNIQUE':
      if (value !== undefined) return 'UNIQUE takes no value';
      return { field, operator };
    case 'CLUSTER':
      return value === undefined ? { field, operator } : { field, operator, value };
    case 'GROUP_BY':
      if (value === undefined) return { field, operator };
      if (!/^[1-9][0-9]*$/.test(value))
        return `GROUP_BY takes a positive whole number of groups, not ${JSON.stringify(value)}`;
      return { field, operator, value };
    case 'MAX_PER':
      if (value === undefined || !/^[1-9][0-9]*$/.test(value))
        return 'MAX_PER takes a positive whole number, e.g. "MAX_PER 2"';
      return { field, operator, value };
    case 'LIKE':
    case 'UNLIKE':
      if (value === undefined) return `${operator} takes a regular expression, e.g. "${operator} rack-[0-9]+"`;
      try {
        new RegExp(value);
      } catch {
        return `${operator} value ${JSON.stringify(value)} is not a valid regular expression`;
      }
      return { field, operator, value };
  }
}

/** `"hostname UNIQUE"` / `"hostname:UNIQUE"` / `"rack: GROUP_BY 3"`: the list item string form. */
export function splitConstraintText(text: string): [field: string, rest: string] | undefined {
  const m = /^\s*(@?[^\s:]+)\s*(?::\s*|\s+)(.+)$/.exec(text);
  return m ? [m[1]!, m[2]!] : undefined;
}

export function toMarathonConstraint(c: ConstraintSpec): string[] {
  return c.value === undefined ? [c.field, c.operator] : [c.field, c.operator, c.value];
}

/** The readable form of a constraint, for display. */
export function describeConstraint(c: ConstraintSpec): string {
  return c.value === undefined ? `${c.field}: ${c.operator}` : `${c.field}: ${c.operator} ${c.value}`;
}
