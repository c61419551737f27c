import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubscriberMetrics } from './metrics.js';

test('the lag histogram exposes cumulative buckets, sum and count in the Prometheus text format', async () => {
  const metrics = new SubscriberMetrics();
  for (const seconds of [0.0005, 0.001, 0.002, 0.04, 0.04, 45]) metrics.lag.observe(seconds);
  const text = await metrics.registry.metrics();
  const line = (le: string) =>
    Number(
      new RegExp(
        `^theseus_subscriber_event_to_etcd_seconds_bucket\\{le="${le.replace('+', '\\+')}"\\} (\\S+)$`,
        'm',
      ).exec(text)?.[1],
    );
  assert.match(text, /^# TYPE theseus_subscriber_event_to_etcd_seconds histogram$/m);
  assert.equal(line('0.001'), 2, 'a value equal to a bound counts in that bucket');
  assert.equal(line('0.0025'), 3);
  assert.equal(line('0.025'), 3);
  assert.equal(line('0.05'), 5);
  assert.equal(line('30'), 5);
  assert.equal(line('+Inf'), 6);
  assert.match(text, /^theseus_subscriber_event_to_etcd_seconds_count 6$/m);
  assert.equal(Number(/^theseus_subscriber_event_to_etcd_seconds_sum (\S+)$/m.exec(text)?.[1]).toFixed(4), '45.0835');
});

test('events are counted by type and every scrape shows the running totals', async () => {
  const metrics = new SubscriberMetrics();
  metrics.countEvent('status_update_event');
  metrics.countEvent('status_update_event');
  metrics.countEvent('app_terminated_event');
  assert.match(await metrics.registry.metrics(), /^theseus_subscriber_events_total\{type="status_update_event"\} 2$/m);
  metrics.countEvent('status_update_event');
  const text = await metrics.registry.metrics();
  assert.match(text, /^theseus_subscriber_events_total\{type="status_update_event"\} 3$/m);
  assert.match(text, /^theseus_subscriber_events_total\{type="app_terminated_event"\} 1$/m);
});
