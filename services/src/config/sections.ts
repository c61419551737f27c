/**
 * Settings of each long-running part, one section each. Every section has complete defaults, so
 * a part needs only the settings it declares required (see `loadSettings`). Add a part's settings
 * here, with the variable that sets them in `ENV_SETTINGS`.
 */
import * as z from 'zod';

export const durationMs = z.number().int().min(0);

/** An address to listen on: loopback unless something outside this machine must reach the server. */
const listenHost = z
  .string()
  .regex(/^[A-Za-z0-9.:_-]+$/, 'must be an IP address or host name, e.g. 127.0.0.1 or 0.0.0.0');

/**
 * A task's stdout and stderr in its sandbox (files `stdout`, `stderr`), rotated by size as Mesos's
 * LogrotateContainerLogger does: `stdout` becomes `stdout.1`, `stdout.1` becomes `stdout.2`, and the
 * oldest beyond `maxFiles` is removed. The defaults are the kubelet's (10 MiB, 5 files), so one task
 * keeps at most 2 × 10 MiB × 6 in its sandbox. Docker's own copy (json-file, which the sandbox copy is
 * read from) is kept to two files of `dockerFileBytes`.
 */
export const TaskLogsSection = z.strictObject({
  /** Size at which a sandbox output file is rotated, in bytes. */
  maxFileBytes: z
    .number()
    .int()
    .min(4096)
    .default(10 * 1024 * 1024),
  /** Rotated files kept per stream (`stdout.1` … `stdout.N`) besides the current one. */
  maxFiles: z.number().int().min(0).max(100).default(5),
  /**
   * Docker tasks: size of each of the two json-files of Docker's own copy, which holds the output
   * until it is copied into the sandbox (what runs more than twice this far ahead of the copy is lost).
   */
  dockerFileBytes: z
    .number()
    .int()
    .min(65536)
    .default(10 * 1024 * 1024),
});

/** `theseus deployer` */
export const DeployerSection = z.strictObject({
  /** Port of the deploy API (and the dashboard at /ui). */
  port: z.number().int().min(1).max(65535).default(5000),
  /** Address the deploy API and the dashboard listen on. */
  listenHost: listenHost.default('127.0.0.1'),
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024),
  /** Let GET endpoints answer without the API token. */
  openReads: z.boolean().default(false),
  /** Host directories services may mount as volumes (a host path must be one of them or below). Empty: none. */
  hostVolumePaths: z.array(z.string().startsWith('/')).default([]),
  /** Accept `file://` URIs in deploy documents (files of the agent's host copied into the sandbox). */
  fileUris: z.boolean().default(false),
  /** Redis key prefix of the deploy queue and its records; deployers sharing one queue use the same. */
  queuePrefix: z.string().min(1).default('theseus'),
  /** Services of one deploy job applied at the same time. */
  concurrency: z.number().int().min(1).max(64).default(8),
  /** A Marathon deployment of a scale, restart, rollback or removal still running after this long counts as failed (a deploy's rollout has its spec's `deadline`). */
  deploymentTimeoutMs: durationMs.default(600_000),
  /** Longest `?wait=true` answer; after it the answer is the deployment's current state. */
  waitTimeoutMs: durationMs.default(300_000),
  /** A Mesos master (or the engine) answering `GET /master/slaves`: the dashboard's host capacity. Unset: capacity unknown. */
  mesosMasterUrl: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  /** Port of the Mesos agents' HTTP API (`/monitor/statistics`, the files API, `/state`) on each task host, when no Mesos master names the agents. */
  agentPort: z.number().int().min(1).max(65535).default(5051),
  /** An instance using more than this share of its memory limit is flagged on the dashboard and in the metrics. */
  memoryWarnRatio: z.number().gt(0).max(1).default(0.9),
  /** Between two reads of a followed log file (`theseus logs --follow`, the dashboard's log tail). */
  logPollMs: durationMs.min(100).default(1000),
});

/** `theseus subscriber` */
export const SubscriberSection = z
  .strictObject({
    port: z.number().int().min(1).max(65535).default(5001),
    /** Address the subscriber's HTTP surface listens on (in callback mode, Marathon must reach it). */
    listenHost: listenHost.default('127.0.0.1'),
    /** Full reconcile interval. */
    reconcileIntervalMs: durationMs.default(60_000),
    /** Register tasks of apps with health checks only once healthy. */
    requireHealthy: z.boolean().default(true),
    /** Register with Marathon's HTTP callback bus (Marathon < 1.5) at this URL of ours. */
    callbackUrl: z.url().optional(),
    /** File holding the secret every callback must carry (required with `callbackUrl`; not the API token). */
    callbackSecretFile: z.string().min(1).optional(),
    /** Longest a discovery request with `?wait=<revision>` is held before the unchanged answer. */
    discoveryMaxWaitMs: durationMs.default(60_000),
    /**
     * How long a discovery caller's password, once etcd accepted it, is trusted without asking etcd
     * again (with `etcd.containerUsername` set, discovery needs that user's credentials).
     */
    discoveryCredentialCacheMs: durationMs.default(60_000),
    /** Leader lease TTL in seconds: a dead leader is replaced within this time. */
    leaderTtlSeconds: z.number().int().min(2).max(300).default(10),
    /**
     * JavaScript heap budget in MB, applied by the command itself: about 60 MB plus 1 MB per 1,000
     * endpoints (160: about 100,000). 0 leaves V8's defaults (and NODE_OPTIONS) in charge.
     */
    heapMb: z
      .number()
      .int()
      .refine((mb) => mb === 0 || mb >= 64, 'must be 0 or a whole number of MB from 64 up')
      .default(160),
  })
  .superRefine((subscriber, ctx) => {
    if (subscriber.callbackUrl && !subscriber.callbackSecretFile) {
      ctx.addIssue({
        code: 'custom',
        path: ['callbackSecretFile'],
        message: "is required with a callback URL: Marathon's callbacks must carry a secret of their own",
      });
    }
  });

/** `theseus engine` */
export const EngineSection = z.strictObject({
  port: z.number().int().min(1).max(65535).default(8080),
  /** Where apps, versions and tasks are kept. */
  dataDir: z.string().min(1).optional(),
  /** Host ports handed to tasks, inclusive. */
  portRange: z.tuple([z.number().int().min(1), z.number().int().max(65535)]).default([31000, 32000]),
  /** Capacity offered to tasks; defaults to the machine's. */
  cpus: z.number().positive().optional(),
  memMb: z.number().positive().optional(),
  /** The address tasks are reported at (`task.host`). */
  hostname: z.string().min(1).default('127.0.0.1'),
  /** Addresses the API listens on. A non-loopback one needs `marathon.credentials`. */
  listen: z.array(z.string().min(1)).min(1).default(['127.0.0.1']),
  /** Host header names accepted besides IP addresses and `localhost` (only checked while listening on loopback). */
  hostNames: z.array(z.string().min(1)).default([]),
  /** Image that apps with a `cmd` and no container run in (Deimos `--default_container_image`). */
  defaultContainerImage: z.string().min(1).default('theseus/busybox:local'),
  /** Run apps with a `cmd` and no container as plain host processes (Mesos's command executor) instead. */
  allowHostCommands: z.boolean().default(false),
  /** Let apps run privileged containers (`privileged`, parameter `privileged`). */
  allowPrivileged: z.boolean().default(false),
  /** Let apps join the host's network namespace; otherwise host-mode tasks get the bridge with their ports published at the same numbers. */
  allowHostNetwork: z.boolean().default(false),
  /** Let apps choose the user their container runs as (`user`, parameter `user`). */
  allowUser: z.boolean().default(false),
  /** Let apps bind-mount any host path. */
  allowHostVolumes: z.boolean().default(false),
  /** Host directories apps may bind-mount (the directory or below, symlinks resolved). Empty: none. */
  hostVolumePaths: z.array(z.string().startsWith('/')).default([]),
  /** Most `/v2/eventSubscriptions` callback URLs at once. */
  maxEventSubscriptions: z.number().int().min(0).default(10),
  /** A callback POST not answered within this long counts as failed. */
  eventSubscriptionTimeoutMs: durationMs.min(1).default(5000),
  /** Tasks' stdout and stderr in their sandboxes. */
  taskLogs: TaskLogsSection.prefault({}),
});

/** `theseus watch` and `theseus guest` */
export const GuestSection = z.strictObject({
  /** Services to watch (WATCHES). */
  watches: z.array(z.string().min(1)).default([]),
  /** Module exporting serviceChange(service, delta) (WATCH_HANDLER). */
  handler: z.string().min(1).optional(),
  /** Bursts of changes within this window reach the handler as one delta. */
  coalesceMs: durationMs.default(100),
});
