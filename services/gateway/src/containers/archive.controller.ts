/**
 * `docker cp` (HEAD/GET/PUT /containers/{id}/archive), `docker export` and `docker diff`: bytes
 * between the HTTP exchange and the executor's stream socket (never Redis). The executor does the
 * file work inside the container's own view (berth-archive), so nothing outside the rootfs is
 * reachable whatever symlinks the container holds.
 */
import type { BerthConfig } from '@berth/config';
import { DomainError, ErrorCode, type ExecutorStreamHeader, type ExecutorStreamRequest } from '@berth/contracts';
import { Controller, Get, Head, Inject, Param, Put, Req, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { posix } from 'node:path';
import { GATEWAY_CONFIG } from '../config';
import type { DockerRequest } from '../http/docker-request';
import { statusForCode } from '../http/error-status';
import { parseBool, queryString } from '../http/query-params';
import { sendDockerError } from '../http/send-error';
import { openExecutorStream, parseHeader, readLine } from './archive-stream';
import { ContainersService } from './containers.service';

/**
 * Docker's `archive.PreserveTrailingDotOrSeparator(filepath.Join("/", path), path)`: a relative path
 * is relative to the container's root; `..` cannot climb above it; a trailing `/` or `/.` stays.
 */
export function containerPath(path: string): string {
  let abs = posix.join('/', path);
  if ((path.endsWith('/.') || path === '.') && !abs.endsWith('/.')) abs = abs === '/' ? '/.' : `${abs}/.`;
  else if (path.endsWith('/') && !abs.endsWith('/')) abs = `${abs}/`;
  return abs;
}

class ArchiveError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

@Controller('containers')
export class ArchiveController {
  constructor(
    private readonly containers: ContainersService,
    @Inject(GATEWAY_CONFIG) private readonly config: BerthConfig,
  ) {}

  @Head(':id/archive')
  async head(@Param('id') id: string, @Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    await this.guard(res, async () => {
      const { path, containerId } = await this.target(id, req);
      const s = await this.open({ op: 'stat', containerId, path });
      s.socket.destroy();
      this.check(s.header, id, queryString(req.query.path)!);
      res.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(s.header), 'Content-Type': 'application/json' });
      res.end();
    });
  }

  @Get(':id/archive')
  async get(@Param('id') id: string, @Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    await this.guard(res, async () => {
      const { path, containerId } = await this.target(id, req);
      const s = await this.open({ op: 'get', containerId, path });
      this.check(s.header, id, queryString(req.query.path)!, () => s.socket.destroy());
      res.writeHead(200, { 'X-Docker-Container-Path-Stat': statHeader(s.header), 'Content-Type': 'application/x-tar' });
      this.pipeOut(s.socket, s.rest, res);
    });
  }

  @Put(':id/archive')
  async put(@Param('id') id: string, @Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    await this.guard(res, async () => {
      const { path, containerId, view } = await this.target(id, req);
      const request: ExecutorStreamRequest = {
        op: 'put',
        containerId,
        path,
        noOverwriteDirNonDir: parseBool(req.query.noOverwriteDirNonDir),
        ...(parseBool(req.query.copyUIDGID) && view.config.User ? { user: view.config.User } : {}),
      };
      const s = await this.open(request, (socket) => req.pipe(socket));
      try {
        this.check(s.header, id, queryString(req.query.path)!);
        // the second line: the extraction's result, once the whole tar went in
        if (s.rest.length) s.socket.unshift(s.rest);
        const done = parseHeader((await readLine(s.socket)).line);
        this.check(done, id, queryString(req.query.path)!);
      } catch (e) {
        req.unpipe(s.socket);
        req.resume();
        throw e;
      } finally {
        s.socket.destroy();
      }
      res.writeHead(200, { 'Content-Length': '0' });
      res.end();
    });
  }

  @Get(':id/export')
  async export(@Param('id') id: string, @Res() res: ServerResponse): Promise<void> {
    await this.guard(res, async () => {
      const view = await this.containers.view(id);
      const s = await this.open({ op: 'export', containerId: view.id });
      this.check(s.header, id, '/', () => s.socket.destroy());
      res.writeHead(200, { 'Content-Type': 'application/x-tar' });
      this.pipeOut(s.socket, s.rest, res);
    });
  }

  @Get(':id/changes')
  async changes(@Param('id') id: string, @Res() res: ServerResponse): Promise<void> {
    await this.guard(res, async () => {
      const view = await this.containers.view(id);
      const s = await this.open({ op: 'changes', containerId: view.id });
      s.socket.destroy();
      this.check(s.header, id, '/');
      const body = `${JSON.stringify((s.header.ok && s.header.changes) || [])}\n`;
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────────

  private async target(id: string, req: DockerRequest) {
    const raw = queryString(req.query.path);
    // dockerd's words, typo included (httputils.badParameterError)
    if (raw === undefined || raw === '') throw new ArchiveError(400, 'bad parameter: pathcannot be empty');
    if (raw.includes('\0')) throw new ArchiveError(400, 'invalid path');
    const view = await this.containers.view(id);
    return { path: containerPath(raw), containerId: view.id, view };
  }

  private open(request: ExecutorStreamRequest, beforeHeader?: Parameters<typeof openExecutorStream>[2]) {
    return openExecutorStream(this.config['exec-root'], request, beforeHeader);
  }

  /** A failed header as Docker's status and words; `cleanup` runs first. */
  private check(h: ExecutorStreamHeader, name: string, path: string, cleanup?: () => void): asserts h is Extract<ExecutorStreamHeader, { ok: true }> {
    if (h.ok) return;
    cleanup?.();
    switch (h.code) {
      case 'not_found':
        throw new ArchiveError(404, `Could not find the file ${path} in container ${name}`);
      case 'no_such_container':
        throw new ArchiveError(404, `No such container: ${name}`);
      case 'invalid':
        throw new ArchiveError(400, h.message);
      default:
        throw new ArchiveError(500, h.message);
    }
  }

  /** The tar to the client; a cut executor stream (RST) cuts the response, the client sees the error. */
  private pipeOut(socket: Socket, rest: Buffer, res: ServerResponse) {
    if (rest.length) res.write(rest);
    socket.on('error', () => res.destroy());
    socket.on('end', () => res.end());
    res.on('close', () => socket.destroy());
    socket.pipe(res, { end: false });
  }

  private async guard(res: ServerResponse, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (e instanceof ArchiveError) {
        sendDockerError(res, e.status, e.message);
        return;
      }
      const err = DomainError.from(e);
      const status = err.code === ErrorCode.NotFound ? 404 : statusForCode(err.code);
      if (res.headersSent) res.destroy();
      else sendDockerError(res, status, err.message);
    }
  }
}

function statHeader(h: ExecutorStreamHeader): string {
  return Buffer.from(JSON.stringify(h.ok ? h.stat : {})).toString('base64');
}
