/**
 * Service logs read the way a Mesos client reads them, so the same code works against the engine
 * and a real Mesos cluster: Marathon names each task's agent (`slaveId`, `host`), the Mesos master
 * (`/master/slaves`) gives that agent's address, the agent's `/state` gives the executor's sandbox
 * `directory`, and the agent's files API (`/files/read`) gives the bytes of `stdout` or `stderr`.
 * Instances are merged line by line, each line prefixed with its instance's short id.
 *
 * Sandbox files carry no timestamps and the files API reports none per line, so lines cannot be
 * selected by time: `since` is refused rather than approximated.
 */
import type { MarathonTask } from '@theseus/services';
import { ValidationError } from '@theseus/services';

export interface LogsOptions {
  stream: 'stdout' | 'stderr';
  /** Last lines of each instance's current file; undefined: the whole current file. */
  tail?: number;
  follow: boolean;
  /** Only tasks whose id, instance id or short id is this or starts with it. */
  instance?: string;
}

export interface LogReaderOptions {
  /** A Mesos master (or the engine) answering `/master/slaves`; without it, agents are `http://<task host>:<agentPort>`. */
  mesosMasterUrl?: string | undefined;
  agentPort: number;
  /** The Authorization header sent to agents that are one of these origins (the engine is its own agent). */
  authorization?: { value: string; origins: readonly string[] } | undefined;
  /** Between two reads of a followed file. */
  pollMs: number;
  /** Of each HTTP request to the master or an agent. */
  timeoutMs: number;
}

/** Bytes asked for per read: what a Mesos agent answers at most (16 pages). */
const CHUNK = 64 * 1024;

/** Reads `?stream=&tail=&follow=&since=&instance=` of a logs request. */
export function logsOptionsOf(query: Record<string, unknown>): LogsOptions {
  const problems: Array<{ path: string; message: string }> = [];
  const text = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : undefined);
  const stream = text('stream') ?? 'stdout';
  if (stream !== 'stdout' && stream !== 'stderr')
    problems.push({ path: '/stream', message: 'expected stdout or stderr' });
  const tailText = text('tail');
  const tail = tailText === undefined || tailText === '' ? undefined : Number(tailText);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0 || tail > 100_000))
    problems.push({ path: '/tail', message: 'expected a whole number of lines from 0 to 100000' });
  const followText = text('follow');
  if (followText !== undefined && !['true', 'false', '1', '0', ''].includes(followText))
    problems.push({ path: '/follow', message: 'expected true or false' });
  if (text('since') !== undefined)
    problems.push({
      path: '/since',
      message:
        'lines cannot be selected by time: sandbox stdout/stderr files carry no timestamps (Mesos files API); use tail',
    });
  const instance = text('instance') || undefined;
  if (problems.length > 0) throw new ValidationError('cannot read these logs', problems);
  return {
    stream: stream as 'stdout' | 'stderr',
    ...(tail !== undefined ? { tail } : {}),
    follow: followText === 'true' || followText === '1' || followText === '',
    ...(instance ? { instance } : {}),
  };
}

/** The part of a task id that tells instances apart: the first 8 hex digits of its UUID. */
export function shortTaskId(taskId: string): string {
  const uuid = /([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i.exec(taskId);
  return uuid ? uuid[1]! : taskId;
}

export function selectTasks(tasks: MarathonTask[], instance: string | undefined): MarathonTask[] {
  if (!instance) return tasks;
  return tasks.filter(
    (t) => t.id.startsWith(instance) || shortTaskId(t.id).startsWith(instance) || t.id.includes(instance),
  );
}

interface AgentState {
  frameworks?: Array<{ executors?: Executor[]; completed_executors?: Executor[] }>;
  completed_frameworks?: Array<{ executors?: Executor[]; completed_executors?: Executor[] }>;
}
interface Executor {
  id?: string;
  directory?: string;
  tasks?: Array<{ id?: string }>;
  completed_tasks?: Array<{ id?: string }>;
}

export class SandboxLogReader {
  constructor(private readonly options: LogReaderOptions) {}

  /**
   * Writes the tasks' lines to `write` (each `[<short id>] <line>\n`) until every file is read or,
   * when following, until `signal` aborts. A task whose sandbox cannot be read gets one line saying why.
   */
  async stream(
    tasks: MarathonTask[],
    options: LogsOptions,
    write: (text: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const agents = new Map<string, Promise<string>>();
    const states = new Map<string, Promise<AgentState>>();
    await Promise.all(
      tasks.map(async (task) => {
        const prefix = `[${shortTaskId(task.id)}] `;
        try {
          const agent = await memo(agents, task.slaveId ?? task.host, () => this.agentUrl(task));
          const state = await memo(states, agent, () => this.json<AgentState>(`${agent}/state`));
          const directory = directoryOf(state, task.id);
          if (!directory) throw new Error(`agent ${agent} names no sandbox for task ${task.id}`);
          await this.follow(agent, `${directory}/${options.stream}`, prefix, options, write, signal);
        } catch (err) {
          if (!signal.aborted) write(`${prefix}! cannot read ${options.stream}: ${(err as Error).message}\n`);
        }
      }),
    );
  }

  private async follow(
    agent: string,
    path: string,
    prefix: string,
    options: LogsOptions,
    write: (text: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    let partial = '';
    const emit = (data: string) => {
      const text = partial + data;
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        partial = text;
        return;
      }
      partial = text.slice(end + 1);
      write(
        text
          .slice(0, end)
          .split('\n')
          .map((line) => `${prefix}${line}\n`)
          .join(''),
      );
    };
    const start = await this.start(agent, path, options.tail);
    let offset = start.offset;
    // the first read ends where the file ended when the tail was taken: exactly `tail` lines
    let known: number | undefined = start.size;
    for (;;) {
      const size = known ?? (await this.size(agent, path));
      known = undefined;
      // rotated since the last read: the rest of the file is now `<name>.1`
      if (size < offset) {
        await this.copy(agent, `${path}.1`, offset, Infinity, emit, signal).catch((err: unknown) =>
          write(`${prefix}! lines lost in a rotation: ${(err as Error).message}\n`),
        );
        offset = 0;
      }
      offset = await this.copy(agent, path, offset, size, emit, signal);
      if (!options.follow || signal.aborted) break;
      await sleep(this.options.pollMs, signal);
      if (signal.aborted) break;
    }
    if (partial && !signal.aborted) write(`${prefix}${partial}\n`);
  }

  /** Where reading starts: the file's start, or as far back as holds the last `tail` lines. */
  private async start(
    agent: string,
    path: string,
    tail: number | undefined,
  ): Promise<{ offset: number; size: number }> {
    const size = await this.size(agent, path);
    if (tail === undefined) return { offset: 0, size };
    if (tail === 0) return { offset: size, size };
    let from = size;
    let newlines = 0;
    // a last line without its newline yet counts as a line
    let seenEnd = false;
    while (from > 0) {
      const at = Math.max(0, from - CHUNK);
      const { data } = await this.read(agent, path, at, from - at);
      const bytes = Buffer.from(data, 'utf8');
      for (let i = bytes.length - 1; i >= 0; i--) {
        if (bytes[i] !== 0x0a) {
          seenEnd = true;
          continue;
        }
        if (!seenEnd) {
          seenEnd = true;
          continue;
        }
        newlines++;
        if (newlines === tail) return { offset: at + i + 1, size };
      }
      from = at;
    }
    return { offset: 0, size };
  }

  /** Reads `path` from `offset` up to `end` (or its end), passing the text on; answers where it stopped. */
  private async copy(
    agent: string,
    path: string,
    offset: number,
    end: number,
    emit: (data: string) => void,
    signal: AbortSignal,
  ): Promise<number> {
    while (offset < end && !signal.aborted) {
      const length = Math.min(CHUNK, end - offset);
      const { data } = await this.read(agent, path, offset, Number.isFinite(length) ? length : CHUNK);
      if (data.length === 0) break;
      offset += Buffer.byteLength(data, 'utf8');
      emit(data);
    }
    return offset;
  }

  private async size(agent: string, path: string): Promise<number> {
    return (await this.read(agent, path, -1)).offset;
  }

  private read(
    agent: string,
    path: string,
    offset: number,
    length?: number,
  ): Promise<{ data: string; offset: number }> {
    const query = new URLSearchParams({
      path,
      offset: String(offset),
      ...(length !== undefined ? { length: String(length) } : {}),
    });
    return this.json(`${agent}/files/read?${query}`);
  }

  private async agentUrl(task: MarathonTask): Promise<string> {
    const master = this.options.mesosMasterUrl?.replace(/\/+$/, '');
    if (master && task.slaveId) {
      const { slaves } = await this.json<{
        slaves?: Array<{ id?: string; hostname?: string; port?: number; pid?: string }>;
      }>(`${master}/master/slaves?slave_id=${encodeURIComponent(task.slaveId)}`);
      const slave = slaves?.find((s) => s.id === task.slaveId);
      // the agent's libprocess address (what the Mesos UI uses), else its host name and port
      const address = /@([^@]+)$/.exec(slave?.pid ?? '')?.[1];
      if (address) return `http://${address}`;
      if (slave?.hostname && slave.port) return `http://${slave.hostname}:${slave.port}`;
    }
    return `http://${task.host}:${this.options.agentPort}`;
  }

  private async json<T>(url: string): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const auth = this.options.authorization;
    if (auth && auth.origins.includes(new URL(url).origin)) headers.Authorization = auth.value;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(this.options.timeoutMs), redirect: 'error' });
    } catch (err) {
      throw new Error(`${new URL(url).origin} did not answer: ${(err as Error).message}`);
    }
    if (!res.ok) {
      const body = (await res.text().catch(() => '')).slice(0, 200);
      throw new Error(
        `${new URL(url).origin}${new URL(url).pathname} answered ${res.status}${body ? `: ${body}` : ''}`,
      );
    }
    return (await res.json()) as T;
  }
}

function directoryOf(state: AgentState, taskId: string): string | undefined {
  const frameworks = [...(state.frameworks ?? []), ...(state.completed_frameworks ?? [])];
  for (const f of frameworks)
    for (const e of [...(f.executors ?? []), ...(f.completed_executors ?? [])]) {
      const tasks = [...(e.tasks ?? []), ...(e.completed_tasks ?? [])];
      if (e.directory && (e.id === taskId || tasks.some((t) => t.id === taskId))) return e.directory;
    }
  return undefined;
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = cache.get(key);
  if (!value) {
    value = make();
    cache.set(key, value);
  }
  return value;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
