import 'reflect-metadata';
import { type LoggerService, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import type { INestApplication } from '@nestjs/common';
import type { BerthConfig } from '@berth/config';
import type { RequestListener } from 'node:http';
import { AppModule } from './app.module';
import { ContainersService } from './containers/containers.service';
import { containerListFastPath } from './containers/list-fast-path';
import { apiVersionMiddleware } from './http/api-version.middleware';
import { DockerExceptionFilter } from './http/docker-exception.filter';
import { HttpServers } from './http/http-servers';
import { jsonBodyMiddleware } from './http/json-body.middleware';
import { listenOnHosts } from './http/listeners';
import { readBuildInfo } from './system/build-info';
import createExpress, { type RequestHandler } from 'express';
import { loadEngineId } from './system/engine-id';
import { serverHeader, type SystemIdentity } from './system/system-identity';


export interface RunningGateway {
  readonly app: INestApplication;
  readonly servers: HttpServers;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: LoggerService | LogLevel[] | false;
}

const LOG_LEVELS: Record<BerthConfig['log-level'], LogLevel[]> = {
  debug: ['fatal', 'error', 'warn', 'log', 'debug'],
  info: ['fatal', 'error', 'warn', 'log'],
  warn: ['fatal', 'error', 'warn'],
  error: ['fatal', 'error'],
  fatal: ['fatal'],
};

/**
 * Boots the gateway: Nest on an express instance that our own node servers serve (one per `hosts`
 * entry), so the raw servers stay reachable for hijacking (`HttpServers`).
 */
export async function startGateway(config: BerthConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const build = readBuildInfo();
  const identity: SystemIdentity = { build, engineId: loadEngineId(config['data-root']), startedAt: new Date() };
  const servers = new HttpServers();

  const express = createExpress();
  express.disable('x-powered-by');
  express.set('etag', false);
  // Express 5's default "simple" parser: repeated keys become arrays, no nested objects.
  express.set('query parser', 'simple');
  // Before Nest's routes: version prefix + identity headers, then JSON bodies.
  // Our middlewares type the request as the node request Docker's routes see (DockerRequest).
  express.use(apiVersionMiddleware(serverHeader(build)) as unknown as RequestHandler);
  express.use(jsonBodyMiddleware() as unknown as RequestHandler);

  const app = await NestFactory.create(AppModule.forRoot(config, identity, servers), new ExpressAdapter(express), {
    bodyParser: false,
    logger: options.logger ?? LOG_LEVELS[config['log-level']],
    abortOnError: false,
  });
  app.useGlobalFilters(new DockerExceptionFilter());
  await app.init();
  // `docker ps` answered from the cache before express and Nest; anything else goes on to them.
  const listFromCache = containerListFastPath(app.get(ContainersService), serverHeader(build));
  const handler: RequestListener = (req, res) => {
    if (!listFromCache(req, res)) express(req, res);
  };
  try {
    await listenOnHosts(config, handler, servers);
  } catch (e) {
    await closeServers(servers);
    await app.close();
    throw e;
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    servers,
    close: () => (closing ??= closeServers(servers).then(() => app.close())),
  };
}

async function closeServers(servers: HttpServers): Promise<void> {
  await Promise.all(
    servers.all().map(
      ({ server }) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Streams (events, logs) never end on their own.
          server.closeAllConnections();
        }),
    ),
  );
}

