import { type AttachReply, conflict, DomainError, type ExecPrepareReply, type ExecView, invalid } from '@berth/contracts';
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { resolveApiVersion } from '../http/api-version';
import { identityHeaders } from '../http/api-version.middleware';
import { statusForCode } from '../http/error-status';
import { HttpServers } from '../http/http-servers';
import { parseBool } from '../http/query-params';
import { serverHeader, SYSTEM_IDENTITY, type SystemIdentity } from '../system/system-identity';
import { readLog } from './container-logs';
import { ContainersService } from './containers.service';
import { bridge, connectShim, hijackHead, parseDetachKeys, readUpgradeBody, streamError } from './hijack';

const ATTACH = /^\/containers\/([^/]+)\/attach$/;
const EXEC_START = /^\/exec\/([^/]+)\/start$/;

/**
 * Attach and exec start, hijacked. With `Upgrade: tcp` they arrive on the raw servers' `upgrade`
 * event (never in Nest); without it (dockerode's exec start) the route handler calls `takeover`
 * with the request's socket. Either way the client socket is bridged to the shim's attach.sock.
 */
@Injectable()
export class HijackService implements OnModuleInit {
  private readonly logger = new Logger('hijack');

  /** dockerd's identity headers, on the hijacked answers too (they never pass Express's middleware) */
  private readonly identity: Record<string, string>;

  constructor(
    private readonly servers: HttpServers,
    private readonly containers: ContainersService,
    @Inject(SYSTEM_IDENTITY) system: SystemIdentity,
  ) {
    this.identity = Object.fromEntries(identityHeaders(serverHeader(system.build)));
  }

  private head(upgrade: boolean, tty: boolean): string {
    return hijackHead(upgrade, tty, this.identity);
  }

  onModuleInit(): void {
    this.servers.onUpgrade((req, socket, head) => {
      void this.onUpgrade(req, socket, head).catch((e: unknown) => this.fail(socket, e));
    });
  }

  private fail(socket: Duplex, e: unknown): void {
    const err = DomainError.from(e);
    const status = statusForCode(err.code);
    if (status >= 500) this.logger.warn(err.message);
    if (socket.destroyed) return;
    const body = `${JSON.stringify({ message: err.message })}\n`;
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        Object.entries(this.identity).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    const { url } = resolveApiVersion(req.url ?? '/');
    const parsed = new URL(url, 'http://docker');
    const query = Object.fromEntries(parsed.searchParams.entries());
    let m = ATTACH.exec(parsed.pathname);
    if (m && req.method === 'POST') {
      await this.attach(decodeURIComponent(m[1]!), query, socket, head, true);
      return;
    }
    m = EXEC_START.exec(parsed.pathname);
    if (m && req.method === 'POST') {
      const { body, rest } = await readUpgradeBody(req, socket, head);
      await this.execStart(decodeURIComponent(m[1]!), body, socket, rest, true);
      return;
    }
    this.fail(socket, new DomainError('NOT_FOUND' as never, 'page not found'));
  }

  /** `POST /containers/{id}/attach`. */
  async attach(id: string, query: Record<string, unknown>, socket: Duplex, head: Buffer, upgrade: boolean): Promise<void> {
    const stream = parseBool(query.stream);
    const logs = parseBool(query.logs);
    if (!stream && !logs) throw invalid('at least one of stream or logs must be set');
    const wantStdin = parseBool(query.stdin);
    const wantStdout = parseBool(query.stdout);
    const wantStderr = parseBool(query.stderr);
    const detachKeys = parseDetachKeys(typeof query.detachKeys === 'string' ? query.detachKeys : undefined);
    if (detachKeys === null) throw invalid(`Invalid detach keys (${String(query.detachKeys)}) provided`);
    // docker run attaches before its start: answered at once while the shim spawns (a container this
    // gateway just created: before any round trip); its start waits until this attach is connected to
    // the shim (attachesConnected), so no output goes unheard.
    const live = { stdin: wantStdin, stdout: wantStdout, stderr: wantStderr };
    const fresh = stream && !logs ? this.containers.freshContainer(id) : undefined;
    if (fresh) {
      await this.attachEarly(fresh, () => this.containers.attach(fresh.id), live, socket, head, upgrade, detachKeys);
      return;
    }
    const info = await this.containers.attach(id, stream && !logs);
    if (info.shimPending) {
      await this.attachEarly(info, () => this.containers.attachReady(info.id).then(() => info), live, socket, head, upgrade, detachKeys);
      return;
    }
    // logs=1: the json-file log so far (the selected streams; stdcopy frames without a TTY), then live output.
    const replay = async () => {
      if (!logs) return [];
      const view = await this.containers.view(info.id);
      return readLog(view.logPath, {
        stdout: wantStdout,
        stderr: wantStderr,
        sinceNano: null,
        untilNano: null,
        timestamps: false,
        tail: -1,
        tty: info.tty,
      }).chunks;
    };
    if (!stream) {
      const chunks = await replay();
      socket.write(this.head(upgrade, info.tty));
      for (const chunk of chunks) socket.write(chunk);
      socket.end();
      return;
    }
    const { shim, rest } = await connectShim(info.attachSocket, {
      stdin: wantStdin && info.openStdin,
      stdout: wantStdout,
      stderr: wantStderr,
    });
    let chunks: Buffer[];
    try {
      chunks = await replay();
    } catch (e) {
      shim.destroy();
      throw e;
    }
    socket.write(this.head(upgrade, info.tty));
    for (const chunk of chunks) socket.write(chunk);
    await bridge(socket, shim, rest, {
      tty: info.tty,
      stdin: wantStdin && info.openStdin,
      detachKeys,
      head,
    });
  }

  /**
   * The 101 first, then (`ready`) the shim is up and the stream joins it; a start of the container
   * waits for this meanwhile (gateStart).
   */
  private async attachEarly(
    container: { id: string; name?: string; tty: boolean; openStdin: boolean },
    ready: () => Promise<AttachReply>,
    want: { stdin: boolean; stdout: boolean; stderr: boolean },
    socket: Duplex,
    head: Buffer,
    upgrade: boolean,
    detachKeys: Buffer | null,
  ): Promise<void> {
    const connected = this.containers.gateStart(container);
    const stdin = want.stdin && container.openStdin;
    let shim: Awaited<ReturnType<typeof connectShim>>;
    try {
      socket.write(this.head(upgrade, container.tty));
      const info = await ready();
      shim = await connectShim(info.attachSocket, { stdin, stdout: want.stdout, stderr: want.stderr });
    } catch (e) {
      socket.destroy();
      throw e;
    } finally {
      connected();
    }
    await bridge(socket, shim.shim, shim.rest, { tty: container.tty, stdin, detachKeys, head });
  }

  /** `POST /exec/{id}/start`. */
  async execStart(execId: string, body: unknown, socket: Duplex, head: Buffer, upgrade: boolean): Promise<void> {
    const b = (body && typeof body === 'object' ? body : {}) as { Detach?: boolean; Tty?: boolean };
    const bodyTty = typeof b.Tty === 'boolean' ? b.Tty : undefined;
    const streams = (e: ExecView) => ({ stdin: e.openStdin, stdout: e.openStdout, stderr: e.openStderr });
    // An exec this gateway just created: its shim (spawned at create, with the create's Tty) is most
    // likely listening by now, so connect first and skip exec-prepare's round trip; if it is not (still
    // spawning, or the spawn failed), exec-prepare waits for it or spawns it again, as without. A start
    // naming another Tty than the create's takes exec-prepare's path too (nothing new for it here).
    const fresh = this.containers.takeFreshExec(execId);
    let attached: { prepared: ExecPrepareReply; shim: Awaited<ReturnType<typeof connectShim>> } | undefined;
    if (fresh && !b.Detach && (bodyTty === undefined || bodyTty === fresh.exec.tty)) {
      const shim = await connectShim(fresh.attachSocket, streams(fresh.exec)).catch(() => undefined);
      if (shim) attached = { prepared: fresh, shim };
    }
    const prepared = attached?.prepared ?? (await this.containers.execPrepare(execId, bodyTty));
    if ('refused' in prepared) {
      // As dockerd: a start the exec's own state refuses is written into the taken-over stream after
      // the 101, framed by the start's Tty; a detached start gets it as the error answer (409).
      if (b.Detach) throw conflict(prepared.refused);
      socket.write(this.head(upgrade, bodyTty ?? false));
      socket.end(streamError(prepared.refused, bodyTty ?? false));
      return;
    }
    const exec = prepared.exec;
    const tty = bodyTty ?? exec.tty;
    if (b.Detach) {
      await this.containers.execRun(exec.id);
      socket.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const { shim, rest } = attached?.shim ?? (await connectShim(prepared.attachSocket, streams(exec)));
    socket.write(this.head(upgrade, tty));
    const done = bridge(socket, shim, rest, {
      tty,
      stdin: exec.openStdin,
      detachKeys: exec.detachKeys ? parseDetachKeys(exec.detachKeys) : null,
      head,
      // The exit code must be final before the client sees the stream end (it then asks /exec/{id}/json).
      beforeClose: async () => {
        await this.containers.execWait(exec.id);
      },
    });
    try {
      await this.containers.execRun(exec.id);
    } catch (e) {
      socket.write(streamError(DomainError.from(e).message, tty));
      shim.destroy();
      socket.end();
    }
    await done;
  }
}
