import { Logger } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { traceEnd, traceStart } from '@berth/contracts';
import type { DockerServer, HttpServers } from './http-servers';

const logger = new Logger('listeners');

/** Opens one server per `hosts` entry (unix sockets first, as dockerd does) and registers each. */
export async function listenOnHosts(config: BerthConfig, handler: RequestListener, servers: HttpServers): Promise<void> {
  const hosts = [...config.hosts].sort((a, b) => Number(b.startsWith('unix://')) - Number(a.startsWith('unix://')));
  for (const host of hosts) {
    if (host.startsWith('unix://')) {
      const path = host.slice('unix://'.length);
      const server = configureServer(createHttpServer(handler));
      await listenUnix(server, path, config.group);
      servers.add({ host, server });
    } else if (host.startsWith('tcp://')) {
      const { hostname, port } = parseTcpHost(host, config.tls || config.tlsverify);
      const server = configureServer(config.tls || config.tlsverify ? createTlsServer(config, handler) : createHttpServer(handler));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, hostname, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.add({ host, server });
    } else {
      logger.warn(`${host}: only unix:// and tcp:// hosts are served; skipped`);
      continue;
    }
    logger.log(`API listening on ${host}`);
  }
}

/** Streams (events, logs, wait) stay open for hours: no request or header timeouts on these servers. */
function configureServer<T extends DockerServer>(server: T): T {
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 5_000;
  server.timeout = 0;
  if (process.env.BERTH_TRACE === '1') {
    // BERTH_TRACE: one line per request (headers sent, response finished) and per upgrade.
    server.prependListener('request', (req, res) => {
      const t0 = traceStart();
      res.once('finish', () => traceEnd(`http ${req.method} ${req.url?.split('?')[0]} ${res.statusCode}`, t0));
    });
    server.prependListener('upgrade', (req) => traceEnd(`http upgrade ${req.method} ${req.url?.split('?')[0]}`, traceStart()));
  }
  return server;
}

function createTlsServer(config: BerthConfig, handler: RequestListener) {
  const verify = config.tlsverify;
  if (verify && !config.tlscacert) {
    throw new Error('"tlsverify" needs "tlscacert" to verify client certificates');
  }
  return createHttpsServer(
    {
      cert: readFileSync(config.tlscert as string),
      key: readFileSync(config.tlskey as string),
      ...(config.tlscacert ? { ca: readFileSync(config.tlscacert) } : {}),
      requestCert: verify,
      rejectUnauthorized: verify,
      minVersion: 'TLSv1.2',
    },
    handler,
  );
}

export function parseTcpHost(host: string, tls: boolean): { hostname: string; port: number } {
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  const port = url.port ? Number(url.port) : tls ? 2376 : 2375;
  return { hostname: url.hostname.replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

async function listenUnix(server: DockerServer, path: string, group: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new Error(`${path} exists and is not a socket`);
    if (await socketAnswers(path)) throw new Error(`${path} is in use by another process`);
    unlinkSync(path);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o660);
  const gid = groupId(group);
  if (gid === null) return;
  try {
    chownSync(path, process.getuid?.() ?? 0, gid);
  } catch (e) {
    logger.warn(`cannot give ${path} to group ${group}: ${(e as Error).message}`);
  }
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The gid of `group`, or null when no such group exists (dockerd then leaves the socket root-owned). */
function groupId(group: string): number | null {
  if (/^\d+$/.test(group)) return Number(group);
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , gid] = line.split(':');
      if (name === group && gid !== undefined) return Number(gid);
    }
  } catch {
    // fall through to getent (NSS groups)
  }
  try {
    const out = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const gid = out.split(':')[2];
    return gid ? Number(gid) : null;
  } catch {
    return null;
  }
}
