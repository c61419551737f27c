/**
 * Validate + translate of a 500-service deploy document: YAML parsing (with the alias-expansion
 * count and positions), schema and rule validation, and toMarathonApp for every service.
 * Target: under 200 ms. Reports the median of 30 runs after 5 warm-up runs, and each phase.
 *
 *   node --import tsx --conditions=source deployer/bench/validate-translate.ts [--services 500]
 */
import { readDeployDocument, readDocumentSource, validateDeployDocument } from '@theseus/services';
import { toMarathonApp } from '../src/translate.js';
import { largeDocument, median, percentile } from './support/stats.js';

const i = process.argv.indexOf('--services');
const SERVICES = i > 0 ? Number(process.argv[i + 1]) : 500;
const RUNS = 30;
const context = { appGroup: 'theseus', etcdEndpoints: ['http://127.0.0.1:2379'], etcdPrefix: '/theseus' };
const text = largeDocument(SERVICES);

const total: number[] = [];
const read: number[] = [];
const validate: number[] = [];
const translate: number[] = [];
for (let run = 0; run < RUNS + 5; run++) {
  const t0 = performance.now();
  const source = readDocumentSource(text, 'yaml');
  const t1 = performance.now();
  const doc = validateDeployDocument(source.value, {}, source.locate);
  const t2 = performance.now();
  const apps = doc.deploy.map((s) => toMarathonApp(s, context));
  const t3 = performance.now();
  if (apps.length !== SERVICES) throw new Error('wrong number of apps');
  if (run >= 5) {
    total.push(t3 - t0);
    read.push(t1 - t0);
    validate.push(t2 - t1);
    translate.push(t3 - t2);
  }
}
// the one-call path the API uses, for comparison
const oneCall: number[] = [];
for (let run = 0; run < 10; run++) {
  const t0 = performance.now();
  readDeployDocument(text, 'yaml').deploy.map((s) => toMarathonApp(s, context));
  oneCall.push(performance.now() - t0);
}
const f = (x: number) => x.toFixed(1);
console.log(`document: ${SERVICES} services, ${(text.length / 1024).toFixed(0)} KiB of YAML; ${RUNS} runs`);
console.log(
  `validate + translate: median ${f(median(total))} ms, p90 ${f(percentile(total, 90))} ms (target < 200 ms: ${median(total) < 200 ? 'met' : 'NOT met'})`,
);
console.log(
  `  read YAML ${f(median(read))} ms | validate ${f(median(validate))} ms | translate ${f(median(translate))} ms (medians)`,
);
console.log(`  readDeployDocument + toMarathonApp in one call: median ${f(median(oneCall))} ms`);
