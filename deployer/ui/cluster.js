// Cluster: Marathon's (or the engine's) info, and each host with its tasks and resource use.
import { badge, bar, h } from './dom.js';
import { instancesTable } from './services.js';

export function clusterView(state, ui, selectedHost) {
  const c = state.cluster;
  if (!c) return h('p', { class: 'muted' }, 'Reading the cluster…');
  const info = c.info;
  const capacityNote =
    c.capacity === 'mesos'
      ? 'capacity from the Mesos master'
      : 'available capacity unknown (no MESOS_MASTER_URL); used = tasks × app resources';
  const fmt = (n, unit) => `${Math.round(n * 100) / 100}${unit}`;
  const resource = (h_, key, unit) => {
    const used = h_.used[key];
    const total = h_.total?.[key];
    return h(
      'td',
      null,
      total ? `${fmt(used, unit)} of ${fmt(total, unit)}` : `${fmt(used, unit)} of unknown`,
      bar(used, total),
      h_.agentUsed ? h('div', { class: 'muted' }, `agent reports ${fmt(h_.agentUsed[key], unit)}`) : null,
      h_.actual
        ? h(
            'div',
            { class: `actual ${key}` },
            `tasks really use ${fmt(h_.actual[key], unit)}`,
            h('span', { class: 'muted' }, ` (${h_.actual.tasks} reporting)`),
          )
        : null,
    );
  };
  const host = selectedHost ? c.hosts.find((x) => x.host === selectedHost) : undefined;
  return h(
    'section',
    { id: 'cluster' },
    h(
      'div',
      { class: 'panel' },
      info
        ? h(
            'dl',
            { class: 'facts' },
            h('dt', null, 'Scheduler'),
            h(
              'dd',
              null,
              `${info.name} ${info.version}`,
              info.buildref === 'theseus-engine' ? ' (Theseus engine)' : '',
            ),
            h('dt', null, 'Leader'),
            h('dd', { class: 'mono' }, info.leader ?? 'none'),
            h('dt', null, 'Framework'),
            h('dd', { class: 'mono' }, info.frameworkId ?? ''),
            h('dt', null, 'Event stream'),
            h(
              'dd',
              null,
              badge(state.status.marathonStream, state.status.marathonStream === 'attached' ? 'ok' : 'bad'),
            ),
            h('dt', null, 'etcd records'),
            h('dd', null, badge(state.status.etcd, state.status.etcd === 'ok' ? 'ok' : 'bad')),
            h('dt', null, 'Capacity'),
            h('dd', null, capacityNote, c.capacityError ? h('div', { class: 'error' }, c.capacityError) : null),
          )
        : h('p', { class: 'error' }, `Marathon does not answer: ${c.infoError ?? state.status.marathon}`),
    ),
    h(
      'table',
      { id: 'hosts' },
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Host', 'Agent', 'Tasks', 'CPUs allocated and used', 'Memory allocated and used'].map((t) =>
            h('th', null, t),
          ),
        ),
      ),
      h(
        'tbody',
        null,
        c.hosts.map((x) =>
          h(
            'tr',
            { dataset: { host: x.host } },
            h('td', null, h('a', { href: `#/cluster/${encodeURIComponent(x.host)}` }, x.host)),
            h('td', { class: 'mono muted' }, x.agentId ?? ''),
            h('td', { class: 'num' }, String(x.taskCount)),
            resource(x, 'cpus', ''),
            resource(x, 'mem', ' MiB'),
          ),
        ),
      ),
    ),
    host ? hostTasks(state, host, ui) : null,
  );
}

function hostTasks(state, host, ui) {
  const instances = [];
  for (const s of state.services.values())
    for (const i of s.instancesView) if (i.host === host.host && i.state) instances.push(i);
  return h(
    'div',
    null,
    h('h3', null, `Tasks on ${host.host} (${instances.length})`),
    instancesTable(instances, ui.rerender),
  );
}
