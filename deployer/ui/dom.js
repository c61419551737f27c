// Small DOM helpers: h() builds elements; text is always set as text, never parsed as HTML.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
      else if (key === 'class') el.className = value;
      else if (key === 'dataset') Object.assign(el.dataset, value);
      else if (key === 'value') el.value = value;
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

export function badge(text, kind = text) {
  return h('span', { class: `badge ${kind ?? ''}` }, text);
}

export function bar(used, total) {
  if (!total) return null;
  const ratio = Math.min(1, used / total);
  const fill = h('span');
  fill.style.width = `${(ratio * 100).toFixed(1)}%`; // a CSSOM property: the page's CSP allows no inline style attributes
  return h(
    'div',
    { class: `bar ${ratio > 0.9 ? 'bad' : ratio > 0.7 ? 'warn' : ''}`, title: `${Math.round(ratio * 100)}%` },
    fill,
  );
}

export function ago(iso) {
  if (!iso) return '';
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 60) return `${Math.max(0, seconds)}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString([], { hour12: false });
}

export function duration(fromIso, toIso) {
  if (!fromIso) return '';
  const ms = (toIso ? Date.parse(toIso) : Date.now()) - Date.parse(fromIso);
  if (!Number.isFinite(ms)) return '';
  return ms < 1000
    ? `${ms} ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1000)}s`;
}

/** A page of `rows` with pager buttons; `page` is a {value} box kept by the caller. */
export function paged(rows, page, size, render, rerender) {
  const pages = Math.max(1, Math.ceil(rows.length / size));
  page.value = Math.min(page.value, pages - 1);
  const start = page.value * size;
  const shown = rows.slice(start, start + size).map(render);
  const pager =
    pages > 1
      ? h(
          'div',
          { class: 'pager' },
          h(
            'button',
            {
              disabled: page.value === 0,
              onclick: () => {
                page.value--;
                rerender();
              },
            },
            '‹ Previous',
          ),
          h('span', { class: 'muted' }, `${start + 1}–${Math.min(rows.length, start + size)} of ${rows.length}`),
          h(
            'button',
            {
              disabled: page.value >= pages - 1,
              onclick: () => {
                page.value++;
                rerender();
              },
            },
            'Next ›',
          ),
        )
      : null;
  return { shown, pager };
}

export function labels(list) {
  return list.length ? list.map((l) => h('span', { class: 'label' }, l)) : h('span', { class: 'muted' }, '—');
}
