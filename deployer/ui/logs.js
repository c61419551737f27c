// The instance log tail: GET ../services/<name>/logs?instance=<task>&follow=true&tail=200, read with
// fetch so the token travels in the Authorization header. The panel element outlives re-renders of
// the page (which rebuild everything else), so the text and its connection are kept while the
// same instance is shown; choosing another instance or leaving the service closes the connection.
import { h } from './dom.js';

const KEPT_CHARS = 200_000;
const RETRY_MS = 3000;
let current;

/** The log panel of one instance, following it live; the same element while the same instance is asked for. */
export function instanceLog({ token, service, query, taskId, label, onClose }) {
  const key = `${service}?${query}#${taskId}`;
  if (current?.key === key) return current.el;
  closeInstanceLog();
  const text = h('pre', { id: 'instance-log-text', class: 'log' });
  const status = h('span', { id: 'instance-log-status', class: 'muted' }, 'connecting…');
  const el = h(
    'div',
    { id: 'instance-log', class: 'panel', dataset: { task: taskId } },
    h(
      'div',
      { class: 'log-head' },
      h('strong', null, `Log of ${label}`),
      ' ',
      h('span', { class: 'muted' }, 'stdout: the last 200 lines, then new ones as they come'),
      ' ',
      status,
      ' ',
      h('button', { id: 'instance-log-close', onclick: onClose }, 'Close'),
    ),
    text,
  );
  const abort = new AbortController();
  current = { key, el, abort };
  const params = new URLSearchParams(query);
  params.set('instance', taskId);
  params.set('follow', 'true');
  params.set('tail', '200');
  void follow(`../services/${encodeURIComponent(service)}/logs?${params}`, token, text, status, abort.signal);
  return el;
}

export function closeInstanceLog() {
  current?.abort.abort();
  current = undefined;
}

async function follow(url, token, text, status, signal) {
  let first = true;
  while (!signal.aborted) {
    const headers = { Accept: 'text/plain' };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    try {
      const res = await fetch(url, { headers, signal });
      if (!res.ok) {
        const body = await res.json().catch((err) => ({ error: { message: String(err) } }));
        status.textContent = `cannot read the log (${res.status}): ${body.error?.message ?? ''}`;
        if (res.status === 401 || res.status === 404 || res.status === 422) return;
      } else {
        // a reconnect starts over with the tail
        if (!first) text.textContent = '';
        first = false;
        status.textContent = 'live';
        const decoder = new TextDecoder();
        for await (const chunk of res.body) append(text, decoder.decode(chunk, { stream: true }));
        status.textContent = 'ended; reconnecting…';
      }
    } catch (err) {
      if (signal.aborted) return;
      status.textContent = `disconnected (${err.message}); reconnecting…`;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

function append(el, chunk) {
  const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 4;
  let all = el.textContent + chunk;
  if (all.length > KEPT_CHARS) all = all.slice(all.indexOf('\n', all.length - KEPT_CHARS) + 1);
  el.textContent = all;
  if (atBottom) el.scrollTop = el.scrollHeight;
}
