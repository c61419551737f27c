// Deployments: queued, running and finished deploy jobs, each with its per-service steps, errors
// and timing; a running one changes in place as its record changes.
import { ago, badge, duration, h, labels, time } from './dom.js';

export function deploymentsView(state) {
  const list = [...state.deployments.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  if (list.length === 0) return h('p', { class: 'muted' }, 'No deployments yet.');
  return h(
    'section',
    { id: 'deployments' },
    list.slice(0, 100).map((d) => deploymentEl(d, state.services)),
  );
}

const CHANGES_SHOWN = 6;

function changesText(changes) {
  const paths = changes.map((c) => c.path ?? c.field ?? JSON.stringify(c));
  return (
    paths.slice(0, CHANGES_SHOWN).join(', ') +
    (paths.length > CHANGES_SHOWN ? ` and ${paths.length - CHANGES_SHOWN} more` : '')
  );
}

function deploymentEl(d, services) {
  return h(
    'div',
    { class: 'panel deployment', dataset: { deployment: d.id, state: d.state } },
    h(
      'div',
      { class: 'toolbar' },
      badge(d.state),
      h('strong', null, d.kind),
      h('code', null, d.id),
      h('span', { class: 'muted' }, `created ${time(d.createdAt)} (${ago(d.createdAt)})`),
      d.startedAt
        ? h(
            'span',
            { class: 'muted' },
            `${d.finishedAt ? 'took' : 'running for'} ${duration(d.startedAt, d.finishedAt)}`,
          )
        : null,
      d.error ? h('span', { class: 'error deployment-error' }, d.error) : null,
    ),
    h(
      'table',
      null,
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Service', 'Namespace', 'Labels', 'Action', 'State', 'Attempts', 'Time', 'Message / error'].map((t) =>
            h('th', null, t),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        d.steps.map((s) =>
          h(
            'tr',
            { dataset: { service: s.service, state: s.state } },
            h(
              'td',
              null,
              services.has(s.appId)
                ? h('a', { href: `#/service/${encodeURIComponent(s.appId)}` }, s.service)
                : s.service,
            ),
            h('td', null, s.namespace),
            h('td', null, labels(s.labels)),
            h('td', null, s.action ?? s.target?.kind ?? ''),
            h('td', null, badge(s.state)),
            h('td', { class: 'num' }, String(s.attempts ?? 0)),
            h('td', { class: 'muted' }, s.startedAt ? duration(s.startedAt, s.finishedAt) : ''),
            h(
              'td',
              null,
              s.error
                ? h(
                    'div',
                    { class: 'error step-error' },
                    `${s.error.code}: ${s.error.message}`,
                    (s.error.problems ?? []).map((p) => h('div', null, `${p.path}: ${p.message}`)),
                  )
                : null,
              s.message ? h('div', { class: 'muted' }, s.message) : null,
              s.state === 'failed' && services.get(s.appId)?.lastTaskFailure
                ? h(
                    'div',
                    { class: 'error task-failure' },
                    `last task failure: ${services.get(s.appId).lastTaskFailure.message}`,
                  )
                : null,
              s.action === 'update' && s.changes?.length
                ? h('div', { class: 'muted' }, `changes: ${changesText(s.changes)}`)
                : null,
            ),
          ),
        ),
      ),
    ),
  );
}
