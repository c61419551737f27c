// Events: Marathon's event stream as it arrives, newest first, filterable by type and text.
import { h, time } from './dom.js';

const SHOWN = 500;

export function eventsView(state, ui) {
  const f = state.eventFilter;
  const types = [...new Set(state.events.map((e) => e.eventType))].sort();
  const q = f.q.trim().toLowerCase();
  const matching = [];
  for (let i = state.events.length - 1; i >= 0 && matching.length < SHOWN; i--) {
    const e = state.events[i];
    if (f.type && e.eventType !== f.type) continue;
    if (q && !summary(e).toLowerCase().includes(q)) continue;
    matching.push(e);
  }
  return h(
    'section',
    null,
    h(
      'div',
      { class: 'toolbar' },
      h(
        'select',
        {
          'aria-label': 'Event type',
          onchange: (e) => {
            f.type = e.target.value;
            ui.rerender();
          },
        },
        h('option', { value: '' }, 'Every event type'),
        types.map((t) => h('option', { value: t, selected: t === f.type }, t)),
      ),
      h('input', {
        type: 'search',
        id: 'event-search',
        placeholder: 'Filter by app, task, text',
        value: f.q,
        oninput: (e) => {
          f.q = e.target.value;
          ui.rerender({ keepFocus: 'event-search' });
        },
      }),
      h(
        'span',
        { class: 'muted' },
        `${matching.length} shown of ${state.events.length} received since the deployer started following`,
      ),
    ),
    matching.length === 0
      ? h('p', { class: 'muted' }, 'No events yet.')
      : h(
          'ul',
          { class: 'events panel', id: 'events' },
          matching.map((e) =>
            h(
              'li',
              { dataset: { type: e.eventType } },
              h('span', { class: 'muted mono' }, time(e.timestamp)),
              h('strong', null, e.eventType),
              h(
                'span',
                {
                  class:
                    e.eventType === 'deployment_failed' || /FAILED|ERROR|LOST/.test(e.taskStatus ?? '') ? 'error' : '',
                },
                summary(e),
              ),
            ),
          ),
        ),
  );
}

export function summary(e) {
  const parts = [];
  const app = e.appId ?? e.runSpecId ?? e.appDefinition?.id;
  if (app) parts.push(app);
  if (e.taskStatus) parts.push(e.taskStatus);
  if (e.taskId ?? e.instanceId) parts.push(e.taskId ?? e.instanceId);
  if (e.host && e.host !== 'unknown') parts.push(`on ${e.host}${e.ports?.length ? `:${e.ports.join(',')}` : ''}`);
  if (typeof e.alive === 'boolean') parts.push(e.alive ? 'alive' : 'not alive');
  if (e.healthy !== undefined && e.healthy !== null) parts.push(e.healthy ? 'healthy' : 'unhealthy');
  if (e.condition) parts.push(e.condition);
  const plan = e.plan?.id ?? (e.eventType.startsWith('deployment_') ? e.id : undefined);
  if (plan) parts.push(`deployment ${plan}`);
  if (e.plan?.steps)
    parts.push(e.plan.steps.flatMap((s) => s.actions.map((a) => `${a.action} ${a.app ?? a.pod ?? ''}`)).join(', '));
  if (e.reason) parts.push(e.reason);
  if (e.message) parts.push(e.message);
  return parts.join(' · ');
}
