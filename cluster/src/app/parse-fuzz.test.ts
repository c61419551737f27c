/** Whatever JSON arrives, parsing an app answers a definition or a Marathon validation error, never a crash. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseApp } from './parse.js';
import { AppValidationError } from './problems.js';

/** A small deterministic PRNG, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

const FIELDS = [
  'id',
  'cmd',
  'args',
  'instances',
  'cpus',
  'mem',
  'env',
  'labels',
  'container',
  'networks',
  'portDefinitions',
  'ports',
  'healthChecks',
  'upgradeStrategy',
  'constraints',
  'ipAddress',
  'uris',
  'fetch',
  'secrets',
  'unreachableStrategy',
  'readinessChecks',
  'requirePorts',
];
const NESTED = [
  'docker',
  'type',
  'image',
  'network',
  'portMappings',
  'volumes',
  'containerPort',
  'hostPort',
  'mode',
  'name',
  'protocol',
  'command',
  'value',
  'port',
  'portIndex',
  'secret',
  'discovery',
  'ports',
  'number',
  'persistent',
  'external',
  'hostPath',
  'containerPath',
  'minimumHealthCapacity',
];

function value(next: () => number, depth: number): unknown {
  const r = next();
  if (depth > 3 || r < 0.15)
    return [null, true, 0, -1, 1.5, 70000, '', 'x', '/a', 'BRIDGE', 'container/bridge', 'HTTP', 'COMMAND'][
      Math.floor(next() * 13)
    ];
  if (r < 0.45) return Array.from({ length: Math.floor(next() * 3) }, () => value(next, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(next() * 4); i > 0; i--)
    obj[NESTED[Math.floor(next() * NESTED.length)]!] = value(next, depth + 1);
  return obj;
}

describe('app parsing under arbitrary input', () => {
  it('never throws anything but AppValidationError (5,000 random bodies)', () => {
    const next = random(20260701);
    for (let i = 0; i < 5000; i++) {
      const body: Record<string, unknown> = { id: next() < 0.8 ? '/fuzz' : value(next, 0) };
      for (let f = Math.floor(next() * 5); f > 0; f--)
        body[FIELDS[Math.floor(next() * FIELDS.length)]!] = value(next, 1);
      try {
        parseApp(body);
      } catch (err) {
        assert.ok(err instanceof AppValidationError, `body ${i} ${JSON.stringify(body)}: ${String(err)}`);
      }
    }
  });
});
