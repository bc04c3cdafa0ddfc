/**
 * Client for berth-shim (src/shim/): spawn it, then talk to its two unix sockets in the
 * container's state dir. Protocols are documented in src/shim/control.c and attach.c:
 *
 *   control.sock  one JSON object per line each way: {"op":"state"|"start"|"signal"|"resize"|
 *                 "close-stdin"|"subscribe"|"shutdown", …} → {"ok":true,…} | {"ok":false,"code","error"}
 *   attach.sock   header line {"stdin":b,"stdout":b,"stderr":b}\n → {"ok":true}\n, then stdcopy
 *                 frames (raw bytes with a TTY) out, and the container's stdin in.
 *
 * A shim outlives the executor. After a restart, `new ShimClient(stateDir)` reconnects; if the
 * shim is gone (`ENOENT`/`ECONNREFUSED`), `readExitFile()` gives the recorded exit.
 */
import { readFileSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { closeFd, spawnAsync, waitPid } from './native';

export const defaultShimPath = () => join(__dirname, '..', 'build', 'berth-shim');

export type ShimStatus = 'creating' | 'created' | 'running' | 'exited';

export interface ShimState {
  id: string;
  status: ShimStatus;
  pid: number;
  shimPid: number;
  tty: boolean;
  startedAt: string | null;
  exitCode: number | null;
  signal: number | null;
  exitedAt: string | null;
  oomKilled: boolean;
}

export interface ShimExit {
  pid: number;
  exitCode: number;
  /** The terminating signal (exitCode is then 128 + signal), or null. */
  signal: number | null;
  /** RFC3339Nano, UTC. */
  exitedAt: string;
  oomKilled: boolean;
}

/** A failure reported by berth-init (or the shim itself) with the step that failed. */
export interface InitErrorInfo {
  stage: string;
  syscall: string;
  object: string;
  errno: number;
  message: string;
}

export class ShimError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: Partial<InitErrorInfo>,
  ) {
    super(message);
    this.name = 'ShimError';
  }
}

export interface ShimSpawnOptions {
  id: string;
  stateDir: string;
  bundle?: string;
  logPath: string;
  logMaxSize?: number;
  logMaxFile?: number;
  tty?: boolean;
  openStdin?: boolean;
  stdinOnce?: boolean;
  initPath?: string;
  /** `berth-init exec <pid> <spec>` instead of `run <bundle>`. */
  initExec?: { pid: number; specPath: string };
  /** Memory cgroup path (relative to the hierarchy roots) read at exit for oomKilled. */
  cgroup?: string;
  /** Test/stand-in mode: exec this argv directly, no namespaces. */
  execDirect?: string[];
  shimPath?: string;
}

export interface ShimReady {
  shimPid: number;
  pid: number;
}

export function shimArgs(o: ShimSpawnOptions): string[] {
  const a = ['--id', o.id, '--state-dir', o.stateDir, '--log', o.logPath];
  if (o.bundle) a.push('--bundle', o.bundle);
  if (o.logMaxSize !== undefined) a.push('--log-max-size', String(o.logMaxSize));
  if (o.logMaxFile !== undefined) a.push('--log-max-file', String(o.logMaxFile));
  if (o.tty) a.push('--tty');
  if (o.openStdin) a.push('--stdin');
  if (o.stdinOnce) a.push('--stdin-once');
  if (o.initPath) a.push('--init-path', o.initPath);
  if (o.initExec) a.push('--init-exec', String(o.initExec.pid), o.initExec.specPath);
  if (o.cgroup) a.push('--cgroup', o.cgroup);
  if (o.execDirect) a.push('--exec-direct', '--', ...o.execDirect);
  return a;
}

/** Parses the shim's one ready line: {"shimPid","pid"} or {"error":{stage,…}}. */
export function parseReadyLine(line: string): ShimReady {
  let msg: { shimPid?: number; pid?: number; error?: InitErrorInfo };
  try {
    msg = JSON.parse(line);
  } catch {
    throw new ShimError('bad_ready', `berth-shim: unexpected ready message ${JSON.stringify(line)}`);
  }
  if (msg.error) throw new ShimError('create_failed', msg.error.message, msg.error);
  if (typeof msg.shimPid !== 'number' || typeof msg.pid !== 'number') {
    throw new ShimError('bad_ready', `berth-shim: unexpected ready message ${line}`);
  }
  return { shimPid: msg.shimPid, pid: msg.pid };
}

/** Reads one line from a stream; resolves with what came before EOF if no newline did. */
function readLine(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const done = (fn: () => void) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      fn();
    };
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl >= 0) done(() => resolve(buf.slice(0, nl)));
    };
    const onEnd = () => done(() => resolve(buf));
    const onError = (e: Error) => done(() => reject(e));
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
  });
}

/**
 * Starts a shim with the addon's spawn (clone(CLONE_VM|CLONE_VFORK) + execve: no copy of the
 * executor's page tables, so the event loop is held for well under a millisecond). The shim
 * double-forks, so the process spawned here exits at once; the ready line arrives on fd 3,
 * read through a non-blocking socket on the event loop. Its stderr is the executor's: the shim
 * reports every failure as a line on fd 3 too and moves its own output to shim.log.
 */
let envOfShims: string[] | undefined;
/** The executor's environment as the shims get it; read once (each process.env access is a native call). */
function shimEnv(): string[] {
  envOfShims ??= Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  return envOfShims;
}

export async function spawnShim(o: ShimSpawnOptions): Promise<ShimReady> {
  const path = o.shimPath ?? defaultShimPath();
  const { pid, syncFd } = await spawnAsync(path, [path, ...shimArgs(o)], shimEnv(), [-1, -1, 2]);
  let sync: Socket;
  try {
    sync = new Socket({ fd: syncFd, readable: true, writable: false });
  } catch (e) {
    closeFd(syncFd);
    await waitPid(pid).catch(() => undefined);
    throw e;
  }
  let line: string;
  try {
    line = await readLine(sync);
  } finally {
    sync.destroy();
  }
  const exited = waitPid(pid);
  if (!line) {
    const { exitCode, signal } = await exited;
    throw new ShimError('spawn_failed', `berth-shim exited ${exitCode ?? `on signal ${signal}`}`);
  }
  void exited.catch(() => undefined);
  const execFailed = /^\{"type":"error"/.test(line) ? (JSON.parse(line) as { errno: number }) : null;
  if (execFailed) {
    await exited.catch(() => undefined);
    const e = new Error(`spawn ${path}: errno ${execFailed.errno}`) as NodeJS.ErrnoException;
    e.errno = execFailed.errno;
    e.code = Object.entries(constants.errno).find(([, n]) => n === execFailed.errno)?.[0];
    e.syscall = 'spawn';
    e.path = path;
    throw e;
  }
  return parseReadyLine(line);
}

type Reply = { ok: boolean; code?: string; error?: string } & Record<string, unknown>;

function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ path, allowHalfOpen: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

export class ShimClient {
  constructor(readonly stateDir: string) {}

  get controlPath() {
    return join(this.stateDir, 'control.sock');
  }
  get attachPath() {
    return join(this.stateDir, 'attach.sock');
  }

  /** One request on its own connection: the shim is single-threaded and replies at once. */
  async request(req: Record<string, unknown>): Promise<Reply> {
    const s = await connectUnix(this.controlPath);
    try {
      s.write(JSON.stringify(req) + '\n');
      const line = await readLine(s);
      if (!line) throw new ShimError('shim_gone', 'berth-shim closed the control connection');
      const reply = JSON.parse(line) as Reply;
      if (!reply.ok) {
        const { code, error, ok: _ok, ...detail } = reply;
        throw new ShimError(code ?? 'error', error ?? 'berth-shim error', detail as Partial<InitErrorInfo>);
      }
      return reply;
    } finally {
      s.destroy();
    }
  }

  async state(): Promise<ShimState> {
    const { ok: _ok, ...state } = await this.request({ op: 'state' });
    return state as unknown as ShimState;
  }

  /** Resolves once execve succeeded; rejects with the init's error (stage, errno) otherwise. */
  async start(): Promise<{ pid: number; startedAt: string }> {
    const r = await this.request({ op: 'start' });
    return { pid: r.pid as number, startedAt: r.startedAt as string };
  }

  async signal(signal: number | string): Promise<void> {
    await this.request({ op: 'signal', signal });
  }

  async resize(h: number, w: number): Promise<void> {
    await this.request({ op: 'resize', h, w });
  }

  async closeStdin(): Promise<void> {
    await this.request({ op: 'close-stdin' });
  }

  /** The shim exits once the container has exited and the exit is recorded. */
  async shutdown(): Promise<void> {
    await this.request({ op: 'shutdown' });
  }

  /**
   * Resolves with the exit, pushed by the shim (at once if it already happened). Rejects if
   * the connection ends first (the shim died): then see readExitFile().
   */
  async subscribeExit(): Promise<ShimExit> {
    const s = await connectUnix(this.controlPath);
    return new Promise<ShimExit>((resolve, reject) => {
      let buf = '';
      let acked = false;
      s.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const msg = JSON.parse(line) as Reply & { event?: string };
          if (!acked) {
            acked = true;
            if (!msg.ok) {
              s.destroy();
              reject(new ShimError(msg.code ?? 'error', msg.error ?? 'subscribe failed'));
              return;
            }
          } else if (msg.event === 'exit') {
            s.destroy();
            const { event: _e, ...exit } = msg;
            resolve(exit as unknown as ShimExit);
            return;
          }
        }
      });
      s.on('error', reject);
      s.on('close', () => reject(new ShimError('shim_gone', 'berth-shim went away before the exit')));
      s.write(JSON.stringify({ op: 'subscribe' }) + '\n');
    });
  }

  /** exit.json, written (atomically) before any subscriber is told; null if not exited. */
  readExitFile(): ShimExit | null {
    try {
      return JSON.parse(readFileSync(join(this.stateDir, 'exit.json'), 'utf8')) as ShimExit;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /**
   * Attaches. The returned socket (allowHalfOpen) carries stdcopy frames (raw with a TTY);
   * writes go to the container's stdin; `end()` half-closes (closes stdin with stdin-once).
   * It resolves once the shim has registered the client, so no output after that is missed.
   * The socket comes back paused: `pipe()` it, or add a 'data' listener and call `resume()`.
   */
  async attach(want: { stdin?: boolean; stdout?: boolean; stderr?: boolean } = {}): Promise<Socket> {
    const s = await connectUnix(this.attachPath);
    const header = { stdin: !!want.stdin, stdout: want.stdout ?? true, stderr: want.stderr ?? true };
    s.write(JSON.stringify(header) + '\n');
    return new Promise<Socket>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return;
        s.off('data', onData);
        s.off('error', reject);
        s.off('end', onEnd);
        const ack = JSON.parse(buf.subarray(0, nl).toString('utf8')) as Reply;
        if (!ack.ok) {
          s.destroy();
          reject(new ShimError('attach_failed', ack.error ?? 'attach refused'));
          return;
        }
        s.pause();
        const rest = buf.subarray(nl + 1);
        if (rest.length) s.unshift(rest);
        resolve(s);
      };
      const onEnd = () => reject(new ShimError('shim_gone', 'berth-shim closed the attach connection'));
      s.on('data', onData);
      s.once('error', reject);
      s.once('end', onEnd);
    });
  }
}

export interface StdcopyFrame {
  stream: 0 | 1 | 2;
  data: Buffer;
}

/** Splits stdcopy frames ([stream,0,0,0,len BE32] + payload); returns the incomplete tail. */
export function parseStdcopy(buf: Buffer): { frames: StdcopyFrame[]; rest: Buffer } {
  const frames: StdcopyFrame[] = [];
  let off = 0;
  while (buf.length - off >= 8) {
    const len = buf.readUInt32BE(off + 4);
    if (buf.length - off - 8 < len) break;
    frames.push({ stream: buf[off] as 0 | 1 | 2, data: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  return { frames, rest: buf.subarray(off) };
}
