/** Small helpers shared by the deployer benchmarks. */

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** A deploy document of `count` services that uses every kind of field. */
export function largeDocument(count: number): string {
  const lines = ['deploy:'];
  for (let i = 0; i < count; i++) {
    lines.push(
      `  svc-${i}:`,
      `    image: registry.local:5000/team-${i % 17}/svc-${i}:1.${i % 9}.${i % 5}`,
      `    labels: [${['prod', 'blue', `shard-${i % 8}`].join(', ')}]`,
      `    namespace: ns-${i % 12}`,
      `    ports: {http: ${8000 + (i % 100)}, admin: {port: 9000, protocol: tcp}, metrics: 9100}`,
      `    environment: {APP_NAME: svc-${i}, LOG_LEVEL: info, WORKERS: ${1 + (i % 8)}, FEATURE_X: true}`,
      `    instances: ${i % 6}`,
      `    cpus: 0.${1 + (i % 9)}`,
      `    mem: ${128 * (1 + (i % 4))}`,
      `    constraints: ["hostname UNIQUE", {rack: GROUP_BY 3}, {zone: "LIKE us-east-.*"}]`,
      `    healthChecks: [{path: /healthz, port: http, intervalSeconds: 10}, {port: admin, protocol: MESOS_TCP}]`,
      `    upgrade: {minimumHealthCapacity: 0.5, maximumOverCapacity: 0.2}`,
      `    uris: [https://artifacts.local/svc-${i}/config.tgz]`,
    );
  }
  return lines.join('\n') + '\n';
}
