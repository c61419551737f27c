/**
 * The OpenAPI 3.1 description of the deploy API. The deploy document's schema is generated from
 * the same zod schema that validates it, so the two cannot drift.
 */
import { THESEUS_VERSION, deployDocumentJsonSchema } from '@theseus/services';

const json = (schemaRef: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${schemaRef}` } } });
const errorResponse = (description: string) => ({ description, content: json('Error') });
const serviceParams = [
  { name: 'name', in: 'path', required: true, schema: { type: 'string' }, description: 'service name' },
  { name: 'namespace', in: 'query', schema: { type: 'string' } },
  {
    name: 'labels',
    in: 'query',
    schema: { type: 'string' },
    description: 'comma-separated labels; the group must carry all of them',
  },
];
const accepted = { description: 'queued: the deployment id and where to follow it', content: json('Accepted') };
const mutating = { security: [{ bearer: [] }] };
const common = {
  '401': errorResponse('missing or wrong bearer token'),
  '404': errorResponse('no such service'),
  '409': errorResponse('several label groups match: give labels'),
  '503': errorResponse('Marathon or Redis unreachable'),
};

export function openApiDocument(): Record<string, unknown> {
  const deploySchema = deployDocumentJsonSchema();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Theseus deployer',
      version: THESEUS_VERSION,
      description: 'Deploy Docker services onto Marathon from a YAML document.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'THESEUS_API_TOKEN' } },
      schemas: {
        DeployDocument: deploySchema,
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string' },
                message: { type: 'string' },
                hint: { type: 'string' },
                problems: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['path', 'message'],
                    properties: {
                      path: { type: 'string' },
                      message: { type: 'string' },
                      line: { type: 'integer' },
                      column: { type: 'integer' },
                    },
                  },
                },
              },
            },
            requestId: { type: 'string' },
          },
        },
        Accepted: {
          type: 'object',
          required: ['id', 'state', 'statusUrl'],
          properties: {
            id: { type: 'string' },
            state: { type: 'string' },
            statusUrl: { type: 'string' },
            replayed: { type: 'boolean' },
          },
        },
        Step: {
          type: 'object',
          properties: {
            service: { type: 'string' },
            namespace: { type: 'string' },
            labels: { type: 'array', items: { type: 'string' } },
            appId: { type: 'string' },
            state: { enum: ['pending', 'running', 'succeeded', 'failed', 'rolled-back'] },
            action: { type: 'string' },
            marathonDeploymentId: { type: 'string' },
            attempts: { type: 'integer' },
            message: { type: 'string' },
            error: { type: 'object' },
            changes: { type: 'array' },
            previousVersion: { type: 'string' },
            deadlineAt: { type: 'string' },
            failure: {
              type: 'object',
              description:
                'why the rollout failed (deadline passed, or Marathon reported it failed) and what became of it (onFailure)',
              properties: {
                reason: { enum: ['deadline', 'failed'] },
                summary: { type: 'string' },
                outcome: { enum: ['rolled-back', 'stopped', 'kept'] },
                rollbackDeploymentId: { type: 'string' },
                causes: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      kind: { enum: ['health-checks', 'task-failures', 'capacity', 'unknown'] },
                      message: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
        Deployment: {
          type: 'object',
          required: ['id', 'kind', 'state', 'createdAt', 'steps'],
          properties: {
            id: { type: 'string' },
            kind: { enum: ['deploy', 'scale', 'restart', 'rollback', 'remove'] },
            state: { enum: ['queued', 'running', 'succeeded', 'failed', 'rolled-back'] },
            createdAt: { type: 'string' },
            startedAt: { type: 'string' },
            finishedAt: { type: 'string' },
            error: { type: 'string' },
            steps: { type: 'array', items: { $ref: '#/components/schemas/Step' } },
          },
        },
        DryRun: {
          type: 'object',
          properties: {
            dryRun: { const: true },
            services: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  service: { type: 'string' },
                  appId: { type: 'string' },
                  action: { enum: ['create', 'update', 'scale', 'noop', 'delete', 'absent'] },
                  app: { type: 'object', description: 'the Marathon app JSON' },
                  changes: {
                    type: 'array',
                    items: { type: 'object', properties: { path: { type: 'string' }, from: {}, to: {} } },
                  },
                },
              },
            },
          },
        },
        ServiceGroup: {
          type: 'object',
          properties: {
            service: { type: 'string' },
            namespace: { type: 'string' },
            labels: { type: 'array', items: { type: 'string' } },
            appId: { type: 'string' },
            instances: { type: 'integer' },
            running: { type: 'integer' },
            healthy: { type: 'integer' },
            version: { type: 'string' },
          },
        },
      },
    },
    paths: {
      '/deploy': {
        post: {
          ...mutating,
          summary: 'Validate a deploy document and queue it (or plan it with dryRun)',
          parameters: [
            {
              name: 'dryRun',
              in: 'query',
              schema: { type: 'boolean' },
              description: "answer each app's Marathon JSON and diff; change nothing",
            },
            {
              name: 'wait',
              in: 'query',
              schema: { type: 'boolean' },
              description: 'answer when the deployment has ended (bounded)',
            },
            { name: 'timeout', in: 'query', schema: { type: 'integer' }, description: 'longest wait in seconds' },
            {
              name: 'Idempotency-Key',
              in: 'header',
              schema: { type: 'string' },
              description: "a retried request with the same key gets the first one's deployment",
            },
          ],
          requestBody: {
            required: true,
            content: {
              'application/yaml': { schema: { $ref: '#/components/schemas/DeployDocument' } },
              'application/x-yaml': { schema: { $ref: '#/components/schemas/DeployDocument' } },
              'text/yaml': { schema: { $ref: '#/components/schemas/DeployDocument' } },
              'application/json': { schema: { $ref: '#/components/schemas/DeployDocument' } },
            },
          },
          responses: {
            '200': {
              description: 'dry run plan, or (wait=true) the ended deployment',
              content: {
                'application/json': {
                  schema: {
                    oneOf: [{ $ref: '#/components/schemas/DryRun' }, { $ref: '#/components/schemas/Deployment' }],
                  },
                },
              },
            },
            '202': accepted,
            '400': errorResponse('YAML/JSON syntax error (with line and column)'),
            '401': common['401'],
            '413': errorResponse('body over the size limit, or aliases expanding beyond the bound'),
            '415': errorResponse('unsupported content type'),
            '422': errorResponse('the document has problems, each with its path'),
            '503': common['503'],
          },
        },
      },
      '/deployments': {
        get: {
          summary: 'Recent deployments, newest first',
          parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', maximum: 1000 } }],
          responses: {
            '200': {
              description: 'deployments',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { deployments: { type: 'array', items: { $ref: '#/components/schemas/Deployment' } } },
                  },
                },
              },
            },
            '401': common['401'],
          },
        },
      },
      '/deployments/{id}': {
        get: {
          summary: 'One deployment: state and per-service steps',
          parameters: [
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'wait', in: 'query', schema: { type: 'boolean' } },
          ],
          responses: {
            '200': { description: 'the deployment', content: json('Deployment') },
            '401': common['401'],
            '404': errorResponse('no such deployment'),
          },
        },
      },
      '/services': {
        get: {
          summary: 'Deployed services (one entry per label group)',
          parameters: [
            { name: 'namespace', in: 'query', schema: { type: 'string' } },
            { name: 'labels', in: 'query', schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'services',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { services: { type: 'array', items: { $ref: '#/components/schemas/ServiceGroup' } } },
                  },
                },
              },
            },
            '401': common['401'],
            '503': common['503'],
          },
        },
      },
      '/services/{name}': {
        get: {
          summary:
            'A service: spec, Marathon state, tasks with host:port per named port; environment values only for the token holder (null for others)',
          parameters: serviceParams,
          responses: {
            '200': { description: "the service's label groups" },
            '401': common['401'],
            '404': common['404'],
            '503': common['503'],
          },
        },
        delete: {
          ...mutating,
          summary: 'Remove a service (one label group)',
          parameters: serviceParams,
          responses: { '202': accepted, '401': common['401'], '404': common['404'], '409': common['409'] },
        },
      },
      '/services/{name}/scale': {
        post: {
          ...mutating,
          summary: 'Change the instance count',
          parameters: serviceParams,
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['instances'],
                  properties: { instances: { type: 'integer', minimum: 0 } },
                },
              },
            },
          },
          responses: {
            '202': accepted,
            '401': common['401'],
            '404': common['404'],
            '409': common['409'],
            '422': errorResponse('bad instance count'),
          },
        },
      },
      '/services/{name}/versions': {
        get: {
          summary:
            "Marathon's versions of the service's app, newest first, each with its kind (created, scale, restart, change) and the changes from the version before (environment values hidden)",
          parameters: [
            ...serviceParams,
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
          ],
          responses: {
            '200': {
              description: '{service, appId, versions: [{version, current, kind, changes: [{path, from, to}]}]}',
            },
            '401': common['401'],
            '404': common['404'],
            '422': errorResponse('bad limit'),
          },
        },
      },
      '/services/{name}/logs': {
        get: {
          summary:
            "The service's stdout (or stderr) as text, every instance merged line by line, each line prefixed with `[<short instance id>] `; read through the Mesos agents' files API. With follow=true the answer streams new lines until the client closes it",
          parameters: [
            ...serviceParams,
            {
              name: 'instance',
              in: 'query',
              schema: { type: 'string' },
              description: 'only this task id, or its short id',
            },
            { name: 'follow', in: 'query', schema: { type: 'boolean', default: false } },
            {
              name: 'tail',
              in: 'query',
              schema: { type: 'integer', minimum: 0, maximum: 100000 },
              description: 'start with the last lines of each instance (default: its whole current file)',
            },
            { name: 'stream', in: 'query', schema: { type: 'string', enum: ['stdout', 'stderr'], default: 'stdout' } },
            {
              name: 'since',
              in: 'query',
              schema: { type: 'string' },
              description: 'refused (422): sandbox files carry no timestamps',
            },
          ],
          responses: {
            '200': {
              description: 'text/plain lines; a line `[<id>] ! cannot read ...` when an instance cannot be read',
            },
            '401': common['401'],
            '404': common['404'],
            '409': common['409'],
            '422': errorResponse('bad tail, stream or follow, or since'),
          },
        },
      },
      '/services/{name}/restart': {
        post: {
          ...mutating,
          summary: 'Rolling restart',
          parameters: serviceParams,
          responses: { '202': accepted, '401': common['401'], '404': common['404'], '409': common['409'] },
        },
      },
      '/services/{name}/rollback': {
        post: {
          ...mutating,
          summary: 'Roll back to the previous version (or a given one)',
          parameters: serviceParams,
          requestBody: {
            content: {
              'application/json': { schema: { type: 'object', properties: { version: { type: 'string' } } } },
            },
          },
          responses: { '202': accepted, '401': common['401'], '404': common['404'], '409': common['409'] },
        },
      },
      '/healthz': {
        get: { summary: 'Liveness', security: [], responses: { '200': { description: 'the process is up' } } },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: Redis and Marathon reachable',
          security: [],
          responses: { '200': { description: 'ready' }, '503': { description: 'not ready, with what failed' } },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          security: [],
          responses: { '200': { description: 'text exposition format', content: { 'text/plain': {} } } },
        },
      },
      '/openapi.json': {
        get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
      '/ui': {
        get: {
          summary: 'The dashboard page (static files under /ui/)',
          security: [],
          responses: {
            '200': { description: 'HTML', content: { 'text/html': {} } },
            '302': { description: 'to /ui/' },
          },
        },
      },
      '/ui/api/snapshot': {
        get: {
          summary: "Dashboard: services with Marathon's view beside the endpoint records, deployments, events, cluster",
          responses: { '200': { description: 'the whole state' }, '401': common['401'] },
        },
      },
      '/ui/api/live': {
        get: {
          summary:
            'Dashboard: Server-Sent Events (a snapshot, then services, deployment, event, cluster and status changes)',
          responses: {
            '200': { description: 'text/event-stream', content: { 'text/event-stream': {} } },
            '401': common['401'],
          },
        },
      },
    },
  };
}
