/**
 * The engine as a Mesos agent: the files API over task sandboxes and the agent's `/state`, where a
 * client finds each task's executor `directory` to read its `stdout` and `stderr`.
 */
import { Router, type Request, type Response } from 'express';
import type { Engine } from '../engine.js';
import { listenAddress } from '../http/mesos-routes.js';
import { TERMINAL_STATES } from '../tasks/task.js';
import { FilesError } from './files.js';

const query = (req: Request, name: string): string | undefined => {
  const value = req.query[name];
  return typeof value === 'string' ? value : undefined;
};

/** Mesos answers files API errors as plain text with the status. */
function files(handler: (req: Request, res: Response) => void) {
  return (req: Request, res: Response) => {
    try {
      handler(req, res);
    } catch (err) {
      if (!(err instanceof FilesError)) throw err;
      res.status(err.status).type('text/plain').send(err.message);
    }
  };
}

export function agentRoutes(engine: Engine): Router {
  const router = Router();
  router.get(
    ['/files/debug', '/files/debug.json'],
    files((_req, res) => {
      res.json(engine.files.debug());
    }),
  );
  router.get(
    ['/files/browse', '/files/browse.json'],
    files((req, res) => {
      res.json(engine.files.browse(query(req, 'path')));
    }),
  );
  router.get(
    ['/files/read', '/files/read.json'],
    files((req, res) => {
      res.json(engine.files.read(query(req, 'path'), req.query.offset, req.query.length));
    }),
  );
  router.get(
    ['/files/download', '/files/download.json'],
    files((req, res) => {
      const real = engine.files.file(query(req, 'path'));
      res.type('application/octet-stream');
      res.sendFile(real, { dotfiles: 'allow' });
    }),
  );
  router.get(['/state', '/state.json'], (req, res) => {
    res.json(
      agentState(engine, listenAddress(req.socket.localAddress) ?? engine.hostname, req.socket.localPort ?? 5051),
    );
  });
  return router;
}

/** The parts of a Mesos agent's `/state` that clients read: the framework's executors, their tasks and directories. */
export function agentState(engine: Engine, address: string, port: number) {
  const executors = engine.sandboxes().map(({ task, executorId, directory }) => {
    const json = {
      id: task.id,
      name: task.id,
      framework_id: engine.frameworkId,
      executor_id: '',
      slave_id: engine.agentId,
      state: task.state,
      resources: { cpus: task.cpus, mem: task.mem, disk: 0, gpus: 0 },
      statuses: [],
    };
    const ended = TERMINAL_STATES.has(task.state);
    return {
      id: executorId,
      name: `Command Executor (Task: ${task.id})`,
      source: task.id,
      container: task.ref ?? '',
      directory,
      resources: json.resources,
      tasks: ended ? [] : [json],
      queued_tasks: [],
      completed_tasks: ended ? [json] : [],
    };
  });
  return {
    version: '1.0.1',
    id: engine.agentId,
    pid: `slave(1)@${address}:${port}`,
    hostname: engine.hostname,
    start_time: Date.parse(engine.startedAt) / 1000,
    frameworks: executors.length
      ? [
          {
            id: engine.frameworkId,
            name: 'marathon',
            user: 'root',
            hostname: engine.hostname,
            executors,
            completed_executors: [],
          },
        ]
      : [],
    completed_frameworks: [],
  };
}
