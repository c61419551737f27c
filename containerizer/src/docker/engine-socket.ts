/** The Engine's Unix socket: `DOCKER_HOST=unix://...`, else Docker's default. Only Unix sockets are spoken. */
export function engineSocket(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}
