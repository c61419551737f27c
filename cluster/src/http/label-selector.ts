/** Marathon's `label=` selector: `k`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, comma = AND. */
export type LabelSelector = (labels: Record<string, string>) => boolean;

export class LabelSelectorError extends Error {}

export function parseLabelSelector(text: string): LabelSelector {
  const terms: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      terms.push(current);
      current = '';
    } else current += ch;
  }
  terms.push(current);
  const checks = terms.map((raw) => {
    const term = raw.trim();
    let m = /^(\S+?)\s*(==|!=)\s*(.*)$/.exec(term);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '=='
        ? (l: Record<string, string>) => l[key] === value
        : (l: Record<string, string>) => l[key] !== value;
    }
    m = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((v) => v.trim()));
      return op === 'in'
        ? (l: Record<string, string>) => key in l && values.has(l[key]!)
        : (l: Record<string, string>) => !(key in l) || !values.has(l[key]!);
    }
    if (/^[^\s=!(),]+$/.test(term)) return (l: Record<string, string>) => term in l;
    throw new LabelSelectorError(`Invalid label selector: ${term}`);
  });
  return (labels) => checks.every((c) => c(labels));
}
