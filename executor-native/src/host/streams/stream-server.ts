/**
 * The executor's stream socket (`executorStreamSocket(exec-root)`, 0600): bytes that must not cross
 * Redis. One request per connection, protocol in libs/contracts/src/executor.ts ("Executor stream
 * socket"):
 *
 *   stat/get/put/export ─▶ build/berth-archive inside the container's own view (--pid for a
 *                          created/running/paused container, --bundle for a stopped one); its stdout
 *                          (header line, then the tar or the result line) is the answer as is
 *   changes             ─▶ upper dir vs layers, read here (changes.ts)
 */
import {
  executorStreamSocket,
  type ExecutorStreamHeader,
  type ExecutorStreamRequest,
} from '@berth/contracts';
import { readFirstLine } from '@berth/messaging';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { nativeRoot } from '../../native';
import type { ContainerRuntime, Logger } from '../containers/container-runtime';
import { containerChanges } from './changes';

export const berthArchivePath = join(nativeRoot, 'build', 'berth-archive');

const MAX_LINE = 64 * 1024;
const ID = /^[0-9a-f]{64}$/;

const line = (h: ExecutorStreamHeader) => `${JSON.stringify(h)}\n`;

export class StreamServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  readonly path: string;

  constructor(
    execRoot: string,
    private readonly containers: ContainerRuntime,
    private readonly logger: Logger,
  ) {
    this.path = executorStreamSocket(execRoot);
  }

  async listen(): Promise<void> {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o711 });
    rmSync(this.path, { force: true });
    const server = createServer({ allowHalfOpen: true }, (sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      sock.on('error', () => undefined);
      this.handle(sock).catch((e: unknown) => {
        this.logger.warn(`stream socket: ${(e as Error)?.message ?? String(e)}`);
        if (!sock.destroyed) sock.end(line({ ok: false, code: 'internal', message: (e as Error)?.message ?? String(e) }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // 0600 from the start: no window where another user could connect
      const mask = process.umask(0o177);
      server.listen(this.path, () => {
        process.umask(mask);
        resolve();
      });
    });
    chmodSync(this.path, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.path, { force: true });
  }

  private async handle(sock: Socket): Promise<void> {
    const { line: first, rest } = await readFirstLine(sock, MAX_LINE);
    if (first === null) {
      sock.destroy();
      return;
    }
    let req: ExecutorStreamRequest;
    try {
      req = JSON.parse(first) as ExecutorStreamRequest;
    } catch {
      sock.end(line({ ok: false, code: 'invalid', message: 'stream socket: the request is not JSON' }));
      return;
    }
    if (!req || typeof req.containerId !== 'string' || !ID.test(req.containerId)) {
      sock.end(line({ ok: false, code: 'invalid', message: 'stream socket: containerId must be 64 hex digits' }));
      return;
    }
    const id = req.containerId;
    const st = await this.containers.state({ id });
    if (st.status === 'absent') {
      sock.end(line({ ok: false, code: 'no_such_container', message: `No such container: ${id}` }));
      return;
    }
    const p = this.containers.paths(id);
    if (req.op === 'changes') {
      const lowers = JSON.parse(readFileSync(join(p.dir, 'layers.json'), 'utf8')) as string[];
      sock.end(line({ ok: true, changes: await containerChanges(p.upper, lowers) }));
      return;
    }
    const live = (st.status === 'created' || st.status === 'running' || st.status === 'paused') && st.pid > 0;
    const args = live ? ['--pid', String(st.pid)] : ['--bundle', p.dir];
    switch (req.op) {
      case 'stat':
      case 'get':
        if (typeof req.path !== 'string' || !req.path.startsWith('/') || req.path.includes('\0')) break;
        args.push(req.op, req.path);
        return this.run(sock, args, null);
      case 'export':
        args.push('export');
        return this.run(sock, args, null);
      case 'put':
        if (typeof req.path !== 'string' || !req.path.startsWith('/') || req.path.includes('\0')) break;
        args.push('put', req.path);
        if (req.noOverwriteDirNonDir) args.push('--no-overwrite-dir-non-dir');
        if (typeof req.user === 'string' && req.user) args.push('--user', req.user);
        return this.run(sock, args, rest);
    }
    sock.end(line({ ok: false, code: 'invalid', message: `stream socket: bad request ${first.slice(0, 200)}` }));
  }

  /**
   * berth-archive's stdout goes to the socket as is. A run that fails after its ok header (a tar
   * cut short) destroys the socket instead of ending it, so the reader sees the truncation.
   * `input`: put's tar (what followed the request line, then the rest of the socket).
   */
  private run(sock: Socket, args: string[], input: Buffer | null): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn(berthArchivePath, args, { stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let headerOk: boolean | null = null;
      child.stderr!.on('data', (d: Buffer) => {
        if (stderr.length < 8192) stderr += d.toString();
      });
      child.stdout!.on('data', (d: Buffer) => {
        if (headerOk === null) headerOk = d.subarray(0, 12).toString().startsWith('{"ok":true');
        if (!sock.write(d)) {
          child.stdout!.pause();
          sock.once('drain', () => child.stdout!.resume());
        }
      });
      if (input && child.stdin) {
        child.stdin.on('error', () => undefined);
        if (input.length) child.stdin.write(input);
        sock.pipe(child.stdin);
        sock.resume();
      }
      sock.once('close', () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      child.once('error', (e) => {
        sock.end(line({ ok: false, code: 'internal', message: `berth-archive: ${e.message}` }));
        resolve();
      });
      child.once('close', (code) => {
        if (input) sock.unpipe(child.stdin!);
        if (code !== 0 && stderr) this.logger.warn(`berth-archive ${args.join(' ')}: ${stderr.trim()}`);
        if (headerOk === null && code !== 0) sock.end(line({ ok: false, code: 'internal', message: stderr.trim() || `berth-archive exited ${code}` }));
        else if (code === 0 || headerOk === false || input) sock.end(); // put's result line is already out
        else sock.resetAndDestroy(); // RST: the reader sees an error, not a short tar
        resolve();
      });
    });
  }
}

export async function startStreamServer(execRoot: string, containers: ContainerRuntime, logger: Logger): Promise<StreamServer> {
  const s = new StreamServer(execRoot, containers, logger);
  await s.listen();
  return s;
}
