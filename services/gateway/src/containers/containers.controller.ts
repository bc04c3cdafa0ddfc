import { ContainerPatterns, invalid, type WaitCondition } from '@berth/contracts';
import { Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { DockerRequest } from '../http/docker-request';
import { parseBool, parseFilters, parseInteger, queryString } from '../http/query-params';
import { drainOrClose, responseSink } from '../http/response-sink';
import { sendDockerError } from '../http/send-error';
import { statusForCode } from '../http/error-status';
import { DomainError } from '@berth/contracts';
import { LogReader, type LogFollower, timeNano } from './container-logs';
import { ContainersService } from './containers.service';
import { HijackService } from './hijack.service';

const SIGNAL = /^(SIG)?[A-Z0-9+-]+$|^\d+$/i;
/** `logs`: encoded frames queued on the response before the reader waits for the client to take them. */
const LOG_BACKLOG = 4 * 1024 * 1024;

/** A wake-up for a loop that waits for changes: a poke between two waits is not missed. */
class Wakeup {
  private pending = false;
  private resolve: (() => void) | undefined;

  readonly poke = (): void => {
    this.pending = true;
    const r = this.resolve;
    this.resolve = undefined;
    r?.();
  };

  /** Forgets the pokes so far (the caller is about to look at everything). */
  take(): void {
    this.pending = false;
  }

  /** Until a poke (at once if one came since take()) or ms. */
  async wait(ms: number): Promise<void> {
    if (this.pending) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((r) => {
      this.resolve = r;
      timer = setTimeout(r, ms);
    });
    clearTimeout(timer);
    this.resolve = undefined;
  }
}

/**
 * `logs -f`: new lines as they are written, until the container stops, `until` passes or the client goes.
 * Woken by inotify on the log's directory (writes, rotation) and by the exit; a slower poll stays as the
 * fallback (missed events), at 50 ms when inotify is unavailable.
 */
async function followLog(
  follower: LogFollower,
  wake: Wakeup,
  watching: boolean,
  untilNano: bigint | null,
  exit: () => Promise<unknown>,
  sink: { readonly closed: boolean },
  write: (chunks: Buffer[]) => Promise<void>,
  res: ServerResponse,
): Promise<void> {
  const pollMs = watching ? 250 : 50;
  let exited = false;
  exit()
    .then(
      () => (exited = true),
      () => (exited = true),
    )
    .finally(wake.poke);
  res.once('close', wake.poke);
  while (!sink.closed) {
    const wasExited = exited;
    wake.take();
    await write(follower.read());
    if (follower.stopped) break;
    if (follower.more) continue;
    // The shim writes the log before the exit is recorded: one more read after the exit drains it.
    if (wasExited) break;
    if (!exited) await wake.wait(untilNano !== null ? Math.min(pollMs, 50) : pollMs);
    if (untilNano !== null && BigInt(Date.now()) * 1_000_000n > untilNano) break;
  }
}

function parseTime(value: unknown, name: string): bigint | null {
  const v = queryString(value);
  if (v === undefined || v === '' || v === '0') return v === '0' ? 0n : null;
  if (/^\d+(\.\d+)?$/.test(v)) {
    const [s, f = ''] = v.split('.');
    return BigInt(s!) * 1_000_000_000n + BigInt((f + '000000000').slice(0, 9));
  }
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw invalid(`invalid value for ${name}: ${v}`);
  return timeNano(new Date(ms).toISOString());
}

/** `/containers/*`: Docker's shapes and statuses; streams written on the raw response. */
@Controller('containers')
export class ContainersController {
  constructor(
    private readonly containers: ContainersService,
    private readonly hijack: HijackService,
  ) {}

  /** The body comes serialized (and cached) from the service; the headers are express's res.json ones. */
  @Get('json')
  async list(@Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const limit = parseInteger(req.query.limit, 'limit');
    const all = parseBool(req.query.all);
    const filters = parseFilters(req.query.filters);
    // With size=1 every row carries live disk figures, so that answer is never served from the cache.
    const body = parseBool(req.query.size)
      ? Buffer.from(JSON.stringify(await this.containers.listWithSizes(all, limit, filters)))
      : await this.containers.listBody(all, limit, filters);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(body);
  }

  @Post('create')
  @HttpCode(201)
  create(@Req() req: DockerRequest) {
    return this.containers.create(queryString(req.query.name), req.body);
  }

  @Post('prune')
  @HttpCode(200)
  prune(@Req() req: DockerRequest) {
    return this.containers.prune(parseFilters(req.query.filters));
  }

  @Get(':id/json')
  async inspect(@Param('id') id: string, @Req() req: DockerRequest) {
    const view = await this.containers.inspect(id);
    return parseBool(req.query.size) ? { ...view, ...(await this.containers.sizes(view.Id, view.Image)) } : view;
  }

  @Post(':id/start')
  @HttpCode(204)
  async start(@Param('id') id: string): Promise<void> {
    this.containers.forgetFresh(id);
    await this.containers.attachesConnected(id);
    await this.containers.command(ContainerPatterns.start, { id });
  }

  @Post(':id/stop')
  @HttpCode(204)
  async stop(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    const t = parseInteger(req.query.t, 't');
    const signal = queryString(req.query.signal);
    if (signal && !SIGNAL.test(signal)) throw invalid(`Invalid signal: ${signal}`);
    await this.containers.command(ContainerPatterns.stop, { id, t, signal }, t !== undefined && t >= 0 ? (t + 60) * 1000 : 24 * 3600_000);
  }

  @Post(':id/restart')
  @HttpCode(204)
  async restart(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    const t = parseInteger(req.query.t, 't');
    const signal = queryString(req.query.signal);
    await this.containers.command(ContainerPatterns.restart, { id, t, signal }, t !== undefined && t >= 0 ? (t + 90) * 1000 : 24 * 3600_000);
  }

  @Post(':id/kill')
  @HttpCode(204)
  async kill(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    const signal = queryString(req.query.signal) || 'SIGKILL';
    await this.containers.command(ContainerPatterns.kill, { id, signal });
  }

  @Post(':id/pause')
  @HttpCode(204)
  async pause(@Param('id') id: string): Promise<void> {
    await this.containers.command(ContainerPatterns.pause, { id });
  }

  @Post(':id/unpause')
  @HttpCode(204)
  async unpause(@Param('id') id: string): Promise<void> {
    await this.containers.command(ContainerPatterns.unpause, { id });
  }

  @Post(':id/rename')
  @HttpCode(204)
  async rename(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    const name = queryString(req.query.name) ?? '';
    this.containers.forgetFresh(id);
    await this.containers.command(ContainerPatterns.rename, { id, name });
  }

  @Post(':id/update')
  @HttpCode(200)
  update(@Param('id') id: string, @Req() req: DockerRequest) {
    const body = req.body;
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) throw invalid('invalid JSON: body must be an object');
    return this.containers.update(id, (body ?? {}) as Record<string, unknown>);
  }

  @Post(':id/resize')
  @HttpCode(200)
  async resize(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    const h = parseInteger(req.query.h, 'h') ?? 0;
    const w = parseInteger(req.query.w, 'w') ?? 0;
    if (h < 0 || w < 0) throw invalid('invalid resize dimensions');
    await this.containers.command(ContainerPatterns.resize, { id, h, w });
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @Req() req: DockerRequest): Promise<void> {
    this.containers.forgetFresh(id);
    await this.containers.command(ContainerPatterns.remove, { id, force: parseBool(req.query.force), volumes: parseBool(req.query.v) }, 5 * 60_000);
  }

  @Get(':id/top')
  top(@Param('id') id: string, @Req() req: DockerRequest) {
    return this.containers.top(id, queryString(req.query.ps_args));
  }

  /** Headers go out at once: the CLI waits for them before it sends `start`. */
  @Post(':id/wait')
  async wait(@Param('id') id: string, @Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const condition = (queryString(req.query.condition) || 'not-running') as WaitCondition;
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw invalid(`invalid condition: "${condition}"`);
    const target = await this.containers.waitTarget(id);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const sink = responseSink(req, res);
    try {
      // Sent before the client can have the headers (so before its start): the service sees the wait first.
      const reply = await this.containers.wait(target, condition, sink);
      if (!sink.closed) res.end(`${JSON.stringify({ Error: reply.error ? { Message: reply.error } : null, StatusCode: reply.statusCode })}\n`);
    } catch (e) {
      const err = DomainError.from(e);
      if (!sink.closed) res.end(`${JSON.stringify({ Error: { Message: err.message }, StatusCode: -1 })}\n`);
    }
  }

  @Get(':id/logs')
  async logs(@Param('id') id: string, @Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const q = req.query;
    const stdout = parseBool(q.stdout);
    const stderr = parseBool(q.stderr);
    if (!stdout && !stderr) throw invalid('Bad parameters: you must choose at least one stream');
    const follow = parseBool(q.follow);
    const tailText = queryString(q.tail);
    const tail = tailText === undefined || tailText === '' || tailText === 'all' ? -1 : Number.parseInt(tailText, 10);
    const view = await this.containers.view(id);
    if (view.hostConfig.LogConfig?.Type === 'none') {
      throw invalid('configured logging driver does not support reading');
    }
    const query = {
      stdout,
      stderr,
      sinceNano: parseTime(q.since, 'since'),
      untilNano: parseTime(q.until, 'until'),
      timestamps: parseBool(q.timestamps),
      tail: Number.isNaN(tail) ? -1 : tail,
      tty: !!view.config.Tty,
    };
    res.writeHead(200, {
      'Content-Type': query.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
    });
    res.flushHeaders();
    const sink = responseSink(req, res);
    // Frames are queued on the response up to LOG_BACKLOG bytes before waiting for the client, so the next
    // block is encoded while the socket drains; a fast client still lets other requests in every MiB.
    let sinceYield = 0;
    const write = async (chunks: Buffer[]) => {
      for (const c of chunks) {
        if (sink.closed) return;
        sinceYield += c.length;
        if (sinceYield > 1024 * 1024) {
          sinceYield = 0;
          await new Promise<void>((r) => setImmediate(r));
        }
        if (!res.write(c) && res.writableLength > LOG_BACKLOG) {
          sinceYield = 0;
          await drainOrClose(res);
        }
      }
    };
    // With follow, the follower takes the live file over first and watches the directory at once: files
    // rotated while the log so far is sent are held open, so no line is lost between the two.
    const reader = new LogReader(view.logPath, query);
    const up = view.state.status === 'running' || view.state.status === 'paused' || view.state.status === 'restarting';
    const follower = follow && up ? reader.follow() : undefined;
    const wake = new Wakeup();
    const watching = follower?.watch(wake.poke) ?? false;
    try {
      try {
        // The log as it is now, block by block; a small first block gets the client going sooner.
        for (let c = reader.next(64 * 1024); c.length && !sink.closed; c = reader.next()) await write(c);
      } finally {
        reader.close();
      }
      if (follower && !sink.closed && !reader.stopped) {
        const exit = () => this.containers.wait(view, 'not-running', sink);
        await followLog(follower, wake, watching, query.untilNano, exit, sink, write, res);
      }
    } finally {
      follower?.close();
    }
    if (!sink.closed) res.end();
  }

  @Get(':id/stats')
  async stats(@Param('id') id: string, @Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    const stream = parseBool(req.query.stream, true);
    const oneShot = parseBool(req.query['one-shot']);
    const view = await this.containers.view(id);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    const sink = responseSink(req, res);
    const empty = { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
    const sample = async () => (await this.containers.stats(view.id).catch(() => null)) as Record<string, unknown> | null;
    const shape = (cur: Record<string, unknown> | null, prev: Record<string, unknown> | null) => ({
      ...(cur ?? {
        read: '0001-01-01T00:00:00Z',
        pids_stats: {},
        blkio_stats: {},
        num_procs: 0,
        storage_stats: {},
        cpu_stats: empty,
        memory_stats: {},
      }),
      preread: (prev?.read as string) ?? '0001-01-01T00:00:00Z',
      precpu_stats: prev?.cpu_stats ?? empty,
      name: `/${view.name}`,
      id: view.id,
    });
    let prev: Record<string, unknown> | null = null;
    if (!stream) {
      if (!oneShot) {
        prev = await sample();
        await new Promise((r) => setTimeout(r, 1000));
      }
      const cur = await sample();
      res.end(`${JSON.stringify(shape(cur, prev))}\n`);
      return;
    }
    while (!sink.closed) {
      const cur = await sample();
      await sink.write(`${JSON.stringify(shape(cur, prev))}\n`);
      if (!cur) break;
      prev = cur;
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (!sink.closed) res.end();
  }

  /** Without `Upgrade` the connection is taken over all the same (as dockerd does). */
  @Post(':id/attach')
  async attach(@Param('id') id: string, @Req() req: DockerRequest, @Res() res: ServerResponse): Promise<void> {
    try {
      await this.hijack.attach(id, req.query, req.socket, Buffer.alloc(0), false);
    } catch (e) {
      const err = DomainError.from(e);
      sendDockerError(res, statusForCode(err.code), err.message);
    }
  }

  @Post(':id/exec')
  @HttpCode(201)
  exec(@Param('id') id: string, @Req() req: DockerRequest) {
    return this.containers.execCreate(id, req.body);
  }
}
