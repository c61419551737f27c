// The live channel: GET api/live as Server-Sent Events, read with fetch so the token can travel in
// the Authorization header (EventSource cannot send headers). Reconnects; each connection starts
// with a full snapshot, so nothing missed while away stays missing.

export function connectLive({ token, onMessage, onState }) {
  let stopped = false;
  let controller;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const res = await fetch('api/live', {
          headers: token() ? { Authorization: `Bearer ${token()}` } : {},
          signal: controller.signal,
          cache: 'no-store',
        });
        if (res.status === 401) {
          onState('unauthorized', await errorText(res));
          return;
        }
        if (!res.ok || !res.body) throw new Error(`the live channel answered ${res.status}`);
        onState('live');
        await readEvents(res.body, onMessage);
      } catch (err) {
        if (stopped) return;
        onState('reconnecting', err instanceof Error ? err.message : String(err));
      }
      if (!stopped) {
        onState('reconnecting');
        await new Promise((r) => setTimeout(r, 1500));
      }
    }
  };
  void run();
  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}

async function readEvents(body, onMessage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onMessage(type, JSON.parse(data.join('\n')));
    }
  }
}

export async function errorText(res) {
  try {
    const body = await res.json();
    const e = body.error ?? body;
    const problems = Array.isArray(e.problems) ? ': ' + e.problems.map((p) => `${p.path} ${p.message}`).join('; ') : '';
    return `${e.message ?? res.statusText}${problems}${e.hint ? ` (${e.hint})` : ''}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}
