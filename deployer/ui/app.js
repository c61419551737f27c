// The Theseus dashboard: one live channel from the deployer feeds the state; views render from it.
import { h } from './dom.js';
import { connectLive, errorText } from './live.js';
import { serviceView, servicesView } from './services.js';
import { closeInstanceLog } from './logs.js';
import { deploymentsView } from './deployments.js';
import { eventsView } from './events.js';
import { clusterView } from './cluster.js';

const TOKEN_KEY = 'theseus.token';
const MAX_EVENTS = 2000;

const state = {
  services: new Map(),
  deployments: new Map(),
  events: [],
  cluster: null,
  status: { marathonStream: 'detached', marathon: 'unknown', etcd: 'unknown' },
  loaded: false,
  filter: { q: '', namespace: '', label: '' },
  eventFilter: { q: '', type: '' },
};

const main = document.getElementById('main');
const notice = document.getElementById('notice');
const connection = document.getElementById('connection');
const tokenInput = document.getElementById('token');

const token = () => sessionStorage.getItem(TOKEN_KEY) ?? '';

function apply(type, data) {
  switch (type) {
    case 'snapshot':
      state.services = new Map(data.services.map((s) => [s.key, s]));
      state.deployments = new Map(data.deployments.map((d) => [d.id, d]));
      state.events = data.events;
      state.cluster = data.cluster;
      state.status = data.status;
      state.loaded = true;
      break;
    case 'services':
      for (const s of data.upsert) state.services.set(s.key, s);
      for (const key of data.remove) state.services.delete(key);
      break;
    case 'deployment':
      state.deployments.set(data.id, data);
      break;
    case 'event':
      state.events.push(data);
      if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
      break;
    case 'cluster':
      state.cluster = data;
      break;
    case 'status':
      state.status = data;
      break;
  }
  scheduleRender();
}

let pending = false;
function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

function route() {
  const [, view = 'services', arg] = /^#\/([a-z]+)(?:\/(.*))?$/.exec(location.hash) ?? [];
  return { view, arg: arg === undefined ? undefined : decodeURIComponent(arg) };
}

function render(options = {}) {
  const { view, arg } = route();
  for (const a of document.querySelectorAll('#nav a'))
    a.classList.toggle('active', a.dataset.view === view || (view === 'service' && a.dataset.view === 'services'));
  document.getElementById('count-services').textContent = state.loaded ? String(state.services.size) : '';
  document.getElementById('count-deployments').textContent = state.loaded
    ? String([...state.deployments.values()].filter((d) => d.state === 'running' || d.state === 'queued').length || '')
    : '';
  document.getElementById('count-events').textContent = state.loaded ? String(state.events.length) : '';
  document.getElementById('count-hosts').textContent = state.cluster ? String(state.cluster.hosts.length) : '';
  if (!state.loaded) return;
  showDegraded();
  const ui = { rerender: (o) => render(o), action, token };
  if (view !== 'service') closeInstanceLog();
  const content =
    view === 'service'
      ? serviceView(state, ui, arg)
      : view === 'deployments'
        ? deploymentsView(state, ui)
        : view === 'events'
          ? eventsView(state, ui)
          : view === 'cluster'
            ? clusterView(state, ui, arg)
            : servicesView(state, ui);
  const focused = document.activeElement?.id;
  const selection = document.activeElement?.selectionStart;
  main.replaceChildren(content);
  const keep = options.keepFocus ?? focused;
  if (keep && keep !== 'token') {
    const el = document.getElementById(keep);
    if (el && el.tagName === 'INPUT') {
      el.focus();
      if (typeof selection === 'number' && el.type !== 'number') el.setSelectionRange(selection, selection);
    }
  }
  if (!render.painted) {
    render.painted = true;
    performance.mark('theseus:data-rendered');
    document.body.dataset.ready = 'true';
  }
}

/** What the deployer cannot see right now: the page may be showing the last known state. */
function showDegraded() {
  const { marathon, etcd, marathonStream } = state.status;
  const problems = [];
  if (marathon !== 'ok' && marathon !== 'unknown')
    problems.push(`Marathon does not answer (${marathon}): showing the last known state`);
  else if (marathonStream !== 'attached')
    problems.push("not following Marathon's events: changes show within a few seconds instead of at once");
  if (etcd !== 'ok' && etcd !== 'unknown') problems.push(`endpoint records: ${etcd}`);
  const el = document.getElementById('degraded');
  el.textContent = problems.join(' · ');
  el.hidden = problems.length === 0;
}

function show(message, ok = false) {
  notice.textContent = message;
  notice.className = ok ? 'ok' : '';
  notice.hidden = !message;
}

/** Calls one of the deploy API's mutating endpoints with the token, and says how it went. */
async function action(what, path, { method, body }) {
  const headers = { Accept: 'application/json' };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  show('');
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    show(`${what} failed: ${err.message}`);
    return;
  }
  if (!res.ok) {
    const why = await errorText(res);
    show(
      res.status === 401
        ? `${what} refused: ${why}. Set the API token at the top right.`
        : `${what} failed (${res.status}): ${why}`,
    );
    return;
  }
  const answer = await res.json().catch(() => ({}));
  show(`${what} accepted: deployment ${answer.id ?? ''} ${answer.state ?? ''}`.trim(), true);
}

let live;
function connect() {
  live?.stop();
  live = connectLive({
    token,
    onMessage: apply,
    onState(s, detail) {
      connection.dataset.state = s;
      connection.textContent = s === 'live' ? 'live' : s;
      connection.title = detail ?? '';
      if (s === 'unauthorized') {
        main.replaceChildren(
          h('p', { class: 'error' }, `Reads need the API token here: ${detail ?? ''}. Set it at the top right.`),
        );
      }
    },
  });
}

document.getElementById('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = tokenInput.value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  tokenInput.value = '';
  tokenInput.placeholder = value ? 'token set for this tab' : tokenInput.placeholder;
  show(value ? 'Token set for this browser tab.' : '', true);
  connect();
});
document.getElementById('token-clear').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  tokenInput.placeholder = 'API token (for actions)';
  show('Token forgotten.', true);
  connect();
});
if (token()) tokenInput.placeholder = 'token set for this tab';
window.addEventListener('hashchange', () => {
  show('');
  render();
});
setInterval(() => {
  if (route().view === 'deployments') scheduleRender();
}, 1000);
connect();
