// The networking form follows the Marathon the deployer talks to: asked once from /v2/info.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { startHarness } from './testing/harness.js';
import { networkApiOf } from './translate.js';

const WEB = 'deploy:\n  web:\n    image: nginx:1.25\n    ports: {http: 80}\n';

test('networkApiOf: Marathon up to 1.4 reads the pre-1.5 form', () => {
  assert.equal(networkApiOf('1.4.12'), 'legacy');
  assert.equal(networkApiOf('1.3.6'), 'legacy');
  assert.equal(networkApiOf('0.15.3'), 'legacy');
  assert.equal(networkApiOf('1.5.0'), 'canonical');
  assert.equal(networkApiOf('1.10.26'), 'canonical');
  assert.equal(networkApiOf('unknown'), 'canonical');
});

for (const [version, expected] of [
  ['1.4.12', 'legacy'],
  ['1.10.26', 'canonical'],
] as const) {
  test(`auto: against Marathon ${version} the deployer writes the ${expected} form, asking /v2/info once`, async () => {
    const h = await startHarness({ marathon: { version } });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await request(h.url).post('/deploy?dryRun=true').set(h.auth).type('application/yaml').send(WEB);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const app = res.body.services[0].app;
        if (expected === 'legacy') {
          assert.equal(app.networks, undefined);
          assert.equal(app.container.docker.network, 'BRIDGE');
          assert.deepEqual(
            app.container.docker.portMappings.map((p: { name: string }) => p.name),
            ['http'],
          );
        } else {
          assert.deepEqual(app.networks, [{ mode: 'container/bridge' }]);
          assert.deepEqual(
            app.container.portMappings.map((p: { name: string }) => p.name),
            ['http'],
          );
        }
      }
      assert.equal(h.marathon!.calls.filter((c) => c.path === '/v2/info').length, 1);
    } finally {
      await h.close();
    }
  });
}

test('a fixed setting skips the question', async () => {
  const h = await startHarness({ marathon: { version: '1.4.12' }, env: { MARATHON_NETWORK_API: 'canonical' } });
  try {
    const res = await request(h.url).post('/deploy?dryRun=true').set(h.auth).type('application/yaml').send(WEB);
    assert.deepEqual(res.body.services[0].app.networks, [{ mode: 'container/bridge' }]);
    assert.equal(h.marathon!.calls.filter((c) => c.path === '/v2/info').length, 0);
  } finally {
    await h.close();
  }
});
