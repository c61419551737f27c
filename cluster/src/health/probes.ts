/** One health probe of a task: HTTP(S) GET, TCP connect, or a command. Resolves to a failure cause or null. */
import { connect } from 'node:net';
import http from 'node:http';
import https from 'node:https';
import type { HealthCheck } from '../app/definition.js';

export async function httpProbe(check: HealthCheck, host: string, port: number, tls: boolean): Promise<string | null> {
  const client = tls ? https : http;
  return new Promise((resolve) => {
    const req = client.request(
      {
        host,
        port,
        path: check.path ?? '/',
        method: 'GET',
        timeout: check.timeoutSeconds * 1000,
        rejectUnauthorized: false,
        headers: { 'User-Agent': 'Marathon' },
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if ((status >= 200 && status < 400) || (check.ignoreHttp1xx && status >= 100 && status < 200)) resolve(null);
        else resolve(`${status} ${res.statusMessage ?? ''}`.trim());
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${check.timeoutSeconds} s`)));
    req.on('error', (err) => resolve(err.message));
    req.end();
  });
}

export function tcpProbe(check: HealthCheck, host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: check.timeoutSeconds * 1000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(null);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(`timed out after ${check.timeoutSeconds} s`);
    });
    socket.once('error', (err) => resolve(err.message));
  });
}
