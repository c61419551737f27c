// Services: the list (filter by namespace and label, search) and one service group with its
// instances, Marathon's view beside the endpoint record, and the actions.
import { ago, badge, bar, h, labels, paged } from './dom.js';
import { closeInstanceLog, instanceLog } from './logs.js';

const PAGE_SIZE = 100;
/** Instance counts being typed, by app id: a live update must not overwrite them. */
const scaleDrafts = new Map();
const listPage = { value: 0 };

export function servicesView(state, ui) {
  const rows = [...state.services.values()];
  const namespaces = [...new Set(rows.map((r) => r.namespace))].sort();
  const allLabels = [...new Set(rows.flatMap((r) => r.labels))].sort();
  const f = state.filter;
  const q = f.q.trim().toLowerCase();
  const matching = rows.filter(
    (r) =>
      (!f.namespace || r.namespace === f.namespace) &&
      (!f.label || r.labels.includes(f.label)) &&
      (!q ||
        r.service.toLowerCase().includes(q) ||
        (r.image ?? '').toLowerCase().includes(q) ||
        r.appId.toLowerCase().includes(q)),
  );
  const { shown, pager } = paged(matching, listPage, PAGE_SIZE, (r) => serviceRowEl(r), ui.rerender);
  const search = h('input', {
    type: 'search',
    placeholder: 'Search name, image or app id',
    value: f.q,
    'aria-label': 'Search services',
    oninput: (e) => {
      f.q = e.target.value;
      listPage.value = 0;
      ui.rerender({ keepFocus: 'service-search' });
    },
    id: 'service-search',
  });
  const select = (value, options, label, key) =>
    h(
      'select',
      {
        'aria-label': label,
        onchange: (e) => {
          f[key] = e.target.value;
          listPage.value = 0;
          ui.rerender();
        },
      },
      h('option', { value: '' }, `Every ${label}`),
      options.map((o) => h('option', { value: o, selected: o === value }, o)),
    );
  return h(
    'section',
    null,
    h(
      'div',
      { class: 'toolbar' },
      search,
      select(f.namespace, namespaces, 'namespace', 'namespace'),
      select(f.label, allLabels, 'label', 'label'),
      h(
        'span',
        { class: 'muted' },
        `${matching.length} of ${rows.length} service groups · ${rows.reduce((n, r) => n + r.instancesView.length, 0)} instances`,
      ),
    ),
    matching.length === 0
      ? h(
          'p',
          { class: 'muted' },
          rows.length ? 'No service matches the filter.' : 'No Theseus service is deployed yet.',
        )
      : h(
          'table',
          { id: 'services' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['Service', 'Namespace', 'Labels', 'Image', 'Version', 'Instances', 'Health', 'Endpoints', 'Status'].map(
                (t) => h('th', null, t),
              ),
            ),
          ),
          h('tbody', null, shown),
        ),
    pager,
  );
}

function serviceRowEl(r) {
  const href = `#/service/${encodeURIComponent(r.appId)}`;
  const instancesOk = r.running === r.instances;
  return h(
    'tr',
    { dataset: { service: r.service, namespace: r.namespace, labels: r.labels.join(','), app: r.appId } },
    h('td', null, h('a', { href }, r.service)),
    h('td', null, r.namespace),
    h('td', null, labels(r.labels)),
    h('td', { class: 'mono' }, r.image ?? ''),
    h('td', { class: 'muted', title: r.version }, ago(r.version)),
    h(
      'td',
      { class: 'instances' },
      h('span', { class: 'running' }, String(r.running)),
      ' / ',
      h('span', { class: 'desired' }, String(r.instances)),
      r.staged ? h('span', { class: 'muted' }, ` (+${r.staged} staging)`) : null,
      instancesOk ? null : ' ',
      instancesOk ? null : badge('scaling', 'running'),
    ),
    h(
      'td',
      null,
      r.hasHealthChecks
        ? badge(
            `${r.healthy}/${r.running} healthy`,
            r.healthy === r.running && r.running > 0 ? 'ok' : r.running ? 'bad' : '',
          )
        : h('span', { class: 'muted' }, 'no checks'),
    ),
    h(
      'td',
      null,
      r.disagreements
        ? badge(`${r.disagreements} disagree`, 'bad')
        : r.instancesView.length
          ? badge('agree', 'agree')
          : h('span', { class: 'muted' }, '—'),
    ),
    h(
      'td',
      null,
      r.deployments.length ? badge('deploying', 'running') : null,
      r.nearMemoryLimit ? badge(`${r.nearMemoryLimit} near memory limit`, 'bad') : null,
      r.lastTaskFailure && r.running < r.instances
        ? h('div', { class: 'error', title: r.lastTaskFailure.message }, truncate(r.lastTaskFailure.message, 90))
        : null,
    ),
  );
}

export function serviceView(state, ui, appId) {
  const r = state.services.get(appId);
  if (!r)
    return h(
      'section',
      null,
      h('p', null, h('a', { href: '#/services' }, '‹ Services')),
      h('p', { class: 'muted' }, `No service group ${appId} (it may have been removed).`),
    );
  const query = new URLSearchParams({ namespace: r.namespace, labels: r.labels.join(',') }).toString();
  const path = `../services/${encodeURIComponent(r.service)}`;
  const scaleInput = h('input', {
    type: 'number',
    min: '0',
    value: scaleDrafts.get(r.appId) ?? String(r.instances),
    'aria-label': 'Instances',
    id: 'scale-instances',
    oninput: (e) => scaleDrafts.set(r.appId, e.target.value),
  });
  const act = (what, method, suffix, body, confirmText) => () => {
    if (confirmText && !confirm(confirmText)) return;
    void ui.action(what, `${path}${suffix}?${query}`, { method, body });
  };
  return h(
    'section',
    { id: 'service', dataset: { app: r.appId } },
    h('p', null, h('a', { href: '#/services' }, '‹ Services')),
    h('h2', null, r.service, ' ', h('span', { class: 'muted' }, `in ${r.namespace}`), ' ', labels(r.labels)),
    h(
      'div',
      { class: 'panel' },
      h(
        'dl',
        { class: 'facts' },
        h('dt', null, 'App'),
        h('dd', { class: 'mono' }, r.appId),
        h('dt', null, 'Image'),
        h('dd', { class: 'mono' }, r.image ?? ''),
        h('dt', null, 'Version'),
        h('dd', null, r.version, ' ', h('span', { class: 'muted' }, ago(r.version))),
        h('dt', null, 'Instances'),
        h(
          'dd',
          { id: 'service-instances' },
          `${r.running} running of ${r.instances} wanted`,
          r.staged ? `, ${r.staged} staging` : '',
        ),
        h('dt', null, 'Resources'),
        h('dd', null, `${r.cpus} cpus, ${r.mem} MiB each`),
        h('dt', null, 'Ports'),
        h('dd', null, r.ports.join(', ') || '—'),
        h('dt', null, 'Deployments'),
        h('dd', null, r.deployments.length ? r.deployments.map((d) => h('code', null, d, ' ')) : 'none running'),
        r.lastTaskFailure
          ? [
              h('dt', null, 'Last failure'),
              h(
                'dd',
                { class: 'error' },
                `${r.lastTaskFailure.state}: ${r.lastTaskFailure.message} (${ago(r.lastTaskFailure.timestamp)})`,
              ),
            ]
          : null,
      ),
    ),
    h(
      'div',
      { class: 'panel actions' },
      h('strong', null, 'Actions'),
      scaleInput,
      h(
        'button',
        {
          id: 'action-scale',
          onclick: () => {
            scaleDrafts.delete(r.appId);
            void ui.action('scale', `${path}/scale?${query}`, {
              method: 'POST',
              body: { instances: Number(scaleInput.value) },
            });
          },
        },
        'Scale',
      ),
      h(
        'button',
        {
          id: 'action-restart',
          onclick: act('restart', 'POST', '/restart', {}, `Restart every instance of ${r.service}?`),
        },
        'Restart',
      ),
      h(
        'button',
        {
          id: 'action-rollback',
          onclick: act('rollback', 'POST', '/rollback', {}, `Roll ${r.service} back to its previous version?`),
        },
        'Roll back',
      ),
      h(
        'button',
        {
          id: 'action-delete',
          class: 'danger',
          onclick: act(
            'delete',
            'DELETE',
            '',
            undefined,
            `Delete ${r.service} (${r.labels.join(',') || 'no labels'}) in ${r.namespace}?`,
          ),
        },
        'Delete',
      ),
      h('span', { class: 'muted' }, 'Actions need the API token.'),
    ),
    h('h3', null, `Instances (${r.instancesView.length})`),
    instancesTable(r.instancesView, ui.rerender, (taskId) => {
      logShown.set(r.appId, taskId);
      ui.rerender();
    }),
    logPanel(r, ui, query),
  );
}

/** The instance whose log each service view shows, by app id. */
const logShown = new Map();

function logPanel(r, ui, query) {
  const taskId = logShown.get(r.appId);
  if (!taskId) {
    closeInstanceLog();
    return null;
  }
  return instanceLog({
    token: ui.token,
    service: r.service,
    query,
    taskId,
    label: shortTask(taskId),
    onClose: () => {
      logShown.delete(r.appId);
      ui.rerender();
    },
  });
}

const instancesPage = { value: 0 };

/** `onLog(taskId)`: each instance gets a button that shows its log. */
export function instancesTable(instances, rerender = () => {}, onLog = undefined) {
  if (instances.length === 0) return h('p', { class: 'muted' }, 'No instances.');
  const { shown, pager } = paged(instances, instancesPage, 100, (i) => instanceRowEl(i, onLog), rerender);
  return h(
    'div',
    null,
    h(
      'table',
      { id: 'instances' },
      h(
        'thead',
        null,
        h('tr', null, h('th', { colspan: 6 }, 'Marathon'), h('th', { colspan: 3 }, 'Endpoint record (etcd)')),
        h(
          'tr',
          null,
          ['Task', 'Host', 'Ports', 'State', 'Started', 'Used of allocated', 'Ports', 'Healthy', 'Agreement'].map((t) =>
            h('th', null, t),
          ),
        ),
      ),
      h('tbody', null, shown),
    ),
    pager,
  );
}

function instanceRowEl(i, onLog) {
  const portLinks = (which) =>
    i.ports
      .filter((p) => p[which])
      .map((p) =>
        h(
          'div',
          null,
          h('span', { class: 'muted' }, `${p.name} `),
          p.http
            ? h('a', { href: `http://${p[which]}/`, target: '_blank', rel: 'noopener' }, p[which])
            : h('span', { class: 'mono' }, p[which]),
        ),
      );
  return h(
    'tr',
    { dataset: { task: i.id, agreement: i.agreement } },
    h(
      'td',
      { class: 'mono', title: i.id },
      shortTask(i.id),
      onLog && i.state
        ? [' ', h('button', { class: 'log-button', dataset: { log: i.id }, onclick: () => onLog(i.id) }, 'Log')]
        : null,
    ),
    h('td', null, i.host ?? ''),
    h('td', null, portLinks('marathon')),
    h(
      'td',
      null,
      i.state
        ? badge(i.state.replace('TASK_', '').toLowerCase(), i.state)
        : h('span', { class: 'muted' }, 'not in Marathon'),
      i.healthy === undefined ? null : [' ', badge(i.healthy ? 'healthy' : 'unhealthy', i.healthy ? 'ok' : 'bad')],
    ),
    h('td', { class: 'muted', title: i.startedAt ?? '' }, ago(i.startedAt)),
    usageCell(i.usage),
    h('td', null, i.record ? portLinks('record') : h('span', { class: 'muted' }, 'no record')),
    h(
      'td',
      null,
      i.record
        ? i.record.healthy === null
          ? h('span', { class: 'muted' }, 'no checks')
          : String(i.record.healthy)
        : '',
    ),
    h(
      'td',
      null,
      badge(i.agreement),
      i.differences.map((d) => h('div', { class: 'diff' }, d)),
    ),
  );
}

/** What the instance uses (its agent's statistics) against what it was given. */
function usageCell(u) {
  if (!u) return h('td', { class: 'usage muted' }, 'unknown');
  const mib = (bytes) => `${Math.round((bytes / 1024 / 1024) * 10) / 10}`;
  return h(
    'td',
    { class: 'usage', dataset: { nearLimit: String(u.nearLimit) } },
    h(
      'div',
      { class: 'cpu-use' },
      `CPU ${u.cpus === null ? '…' : u.cpus} of ${u.cpusAllocated}`,
      h('span', { class: 'muted' }, ` (${Math.round(u.cpuSeconds * 10) / 10} s)`),
    ),
    u.cpus === null ? null : bar(u.cpus, u.cpusAllocated),
    h('div', { class: 'mem-use' }, `Memory ${mib(u.memBytes)} of ${mib(u.memLimitBytes)} MiB`),
    bar(u.memBytes, u.memLimitBytes),
    u.nearLimit ? badge(`near memory limit (${Math.round(u.memRatio * 100)}%)`, 'bad near-limit') : null,
    u.oomKills ? h('div', { class: 'error oom' }, `${u.oomKills} killed for memory (OOM)`) : null,
  );
}

function truncate(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

function shortTask(id) {
  const m = /instance-([0-9a-f]{8})/.exec(id);
  return m ? `${id.split('.')[0]}…${m[1]}` : id.length > 40 ? `${id.slice(0, 40)}…` : id;
}
