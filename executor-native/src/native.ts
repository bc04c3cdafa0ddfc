/**
 * The only module that loads the berth_native addon. Typed wrappers over it and over the
 * berth-init CLI modes (see executor-native/PROTOCOL.md). Validation happens here; the C++ trusts it.
 */
import { Socket } from 'node:net';
import { join } from 'node:path';

/** executor-native/ (this file compiles to executor-native/dist/native.js). */
export const nativeRoot = join(__dirname, '..');
export const berthInitPath = join(nativeRoot, 'build', 'berth-init');
export const defaultSeccompProfile = join(nativeRoot, 'profiles', 'seccomp-default.json');

interface Addon {
  spawn(path: string, argv: string[], env: string[], fds: number[]): { pid: number; syncFd: number };
  spawnAsync(path: string, argv: string[], env: string[], fds: number[]): Promise<{ pid: number; syncFd: number }>;
  sendGo(fd: number): void;
  readSyncMessage(fd: number): Promise<string | null>;
  closeFd(fd: number): void;
  pidfdOpen(pid: number): number;
  waitPid(pid: number): Promise<WaitResult>;
  setChildSubreaper(): void;
  kill(pid: number, signal: number): void;
  pipe(): [number, number];
}

export interface WaitResult {
  pid: number;
  exitCode: number | null;
  signal: number | null;
}

let addon: Addon | undefined;
function native(): Addon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  addon ??= require(join(nativeRoot, 'build', 'Release', 'berth_native.node')) as Addon;
  return addon;
}

export type SyncMessage =
  | { type: 'pid'; pid: number }
  | { type: 'ready' }
  | { type: 'error'; stage: string; syscall: string; object: string; errno: number; message: string };

/** A failure inside berth-init, carrying the step that failed. `message` is Docker's wording for exec errors. */
export class InitError extends Error {
  constructor(
    message: string,
    readonly stage: string,
    readonly syscall: string,
    readonly object: string,
    readonly errno: number,
  ) {
    super(message);
    this.name = 'InitError';
  }
  static from(m: Extract<SyncMessage, { type: 'error' }>): InitError {
    return new InitError(m.message, m.stage, m.syscall, m.object, m.errno);
  }
}

function checkFd(fd: number, what: string): void {
  if (!Number.isInteger(fd) || fd < -1) throw new TypeError(`${what}: invalid fd ${fd}`);
}

/** fork + exec at once; fds[0..2] become the child's stdio (-1 = /dev/null), fd 3 the sync socket. */
export function spawn(path: string, argv: string[], env: string[], fds: number[] = [-1, -1, -1]) {
  checkSpawn(path, argv, env, fds);
  return native().spawn(path, argv, env, fds.slice(0, 3));
}

function checkSpawn(path: string, argv: string[], env: string[], fds: number[]): void {
  if (!path.startsWith('/')) throw new TypeError(`spawn: path must be absolute: ${path}`);
  if (argv.some((a) => typeof a !== 'string') || env.some((e) => typeof e !== 'string'))
    throw new TypeError('spawn: argv and env must be strings');
  fds.forEach((fd, i) => checkFd(fd, `spawn fds[${i}]`));
}

/**
 * spawn with the clone on a worker thread: CLONE_VFORK suspends the caller until the child's execve,
 * which on a busy machine waits for a CPU (ms of a blocked event loop). `fds` must stay open until it settles.
 */
export async function spawnAsync(path: string, argv: string[], env: string[], fds: number[] = [-1, -1, -1]): Promise<{ pid: number; syncFd: number }> {
  checkSpawn(path, argv, env, fds);
  return native().spawnAsync(path, argv, env, fds.slice(0, 3));
}

export function sendGo(syncFd: number): void {
  checkFd(syncFd, 'sendGo');
  native().sendGo(syncFd);
}

export async function readSyncMessage(syncFd: number): Promise<SyncMessage | null> {
  checkFd(syncFd, 'readSyncMessage');
  const line = await native().readSyncMessage(syncFd);
  if (line === null) return null;
  const msg = JSON.parse(line) as SyncMessage;
  if (msg.type !== 'pid' && msg.type !== 'ready' && msg.type !== 'error')
    throw new Error(`sync: unexpected message ${line}`);
  return msg;
}

/** Reads the next message and insists on its type ("got X, expected Y"); errors become InitError. */
export async function expectSyncMessage<T extends SyncMessage['type']>(
  syncFd: number,
  type: T,
): Promise<Extract<SyncMessage, { type: T }>> {
  const msg = await readSyncMessage(syncFd);
  if (msg?.type === 'error') throw InitError.from(msg);
  if (!msg || msg.type !== type) throw new Error(`sync: got ${msg ? msg.type : 'EOF'}, expected ${type}`);
  return msg as Extract<SyncMessage, { type: T }>;
}

export const closeFd = (fd: number): void => native().closeFd(fd);
export const pidfdOpen = (pid: number): number => native().pidfdOpen(pid);
export const waitPid = (pid: number): Promise<WaitResult> => native().waitPid(pid);
export const setChildSubreaper = (): void => native().setChildSubreaper();
export const kill = (pid: number, signal = 15): void => native().kill(pid, signal);

export interface CreatedProcess {
  /** pid of the berth-init process we spawned (exits right after the pid message; reap it) */
  initPid: number;
  /** host pid of the container's PID 1 (run) or of the exec'd process (exec) */
  pid: number;
  syncFd: number;
}

async function createWith(argv: string[], stdio: number[]): Promise<CreatedProcess> {
  const { pid: initPid, syncFd } = spawn(berthInitPath, argv, ['BERTH_SYNC_FD=3'], stdio);
  try {
    const { pid } = await expectSyncMessage(syncFd, 'pid');
    await expectSyncMessage(syncFd, 'ready');
    return { initPid, pid, syncFd };
  } catch (e) {
    closeFd(syncFd);
    await waitPid(initPid).catch(() => undefined);
    throw e;
  }
}

/** `berth-init run <bundle>` up to "ready": namespaces, mounts and security are in place; nothing executed yet. */
export const createContainer = (bundle: string, stdio: number[] = [-1, -1, -1]) =>
  createWith(['berth-init', 'run', bundle], stdio);

/** `berth-init exec <pid> <spec>` up to "ready". */
export const createExec = (containerPid: number, specPath: string, stdio: number[] = [-1, -1, -1]) =>
  createWith(['berth-init', 'exec', String(containerPid), specPath], stdio);

/** Sends go and waits for the execve outcome: resolves on success (EOF), throws InitError on failure. */
export async function start(p: CreatedProcess): Promise<void> {
  try {
    sendGo(p.syncFd);
    const msg = await readSyncMessage(p.syncFd);
    if (msg?.type === 'error') throw InitError.from(msg);
    if (msg) throw new Error(`sync: got ${msg.type}, expected EOF`);
  } finally {
    closeFd(p.syncFd);
  }
}

/** Everything a pipe's read end yields until EOF, read on the event loop (the fd is closed after). */
function readAll(fd: number, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = new Socket({ fd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    let size = 0;
    s.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        s.destroy();
        reject(new RangeError(`berth-init: output exceeds ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    s.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    s.on('error', reject);
  });
}

/**
 * Runs `berth-init <args>` and parses its JSON stdout. Spawned with the addon (vfork-style, no copy
 * of the executor's page tables, as child_process would make), its pipes read on the event loop.
 */
async function cli(args: string[]): Promise<unknown> {
  const [outR, outW] = native().pipe();
  let errR: number, errW: number;
  try {
    [errR, errW] = native().pipe();
  } catch (e) {
    closeFd(outR);
    closeFd(outW);
    throw e;
  }
  let child: { pid: number; syncFd: number };
  try {
    const env = Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    child = spawn(berthInitPath, [berthInitPath, ...args], env, [-1, outW, errW]);
  } catch (e) {
    closeFd(outR);
    closeFd(errR);
    throw e;
  } finally {
    closeFd(outW);
    closeFd(errW);
  }
  const out = readAll(outR, 16 * 1024 * 1024);
  const err = readAll(errR, 16 * 1024 * 1024);
  const sync = readAll(child.syncFd, 65536);
  const settled = await Promise.allSettled([out, err, sync]);
  // EOF on all three: the child has exited (or is exiting), so this waitpid returns at once.
  const { exitCode, signal } = await waitPid(child.pid);
  const [stdout, stderrAll, syncLine] = settled.map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  }) as [string, string, string];
  if (exitCode === 0) return stdout.trim() ? JSON.parse(stdout) : {};
  const stderr = stderrAll.trim();
  if (stderr.startsWith('{')) throw InitError.from(JSON.parse(stderr) as Extract<SyncMessage, { type: 'error' }>);
  if (syncLine.startsWith('{')) throw InitError.from(JSON.parse(syncLine) as Extract<SyncMessage, { type: 'error' }>);
  const e = new Error(`Command failed: ${berthInitPath} ${args.join(' ')}\n${stderr}`) as Error & {
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
  };
  e.code = exitCode;
  e.signal = signal === null ? null : String(signal);
  e.stdout = stdout;
  e.stderr = stderrAll;
  throw e;
}

export interface CgroupResult {
  ok: true;
  version: 1 | 2;
  warnings: string[];
}

export interface CgroupStats {
  version: 1 | 2;
  cpu: {
    usage_total: number;
    usage_percpu: number[];
    usage_user: number;
    usage_system: number;
    throttling: { periods: number; throttled_periods: number; throttled_time: number };
  };
  memory: {
    usage: number;
    max_usage: number;
    limit: number;
    failcnt: number;
    oom_events: number;
    oom_kill: number;
    under_oom: boolean;
    stats: Record<string, number>;
  };
  pids: { current: number; limit: number };
  blkio: Record<string, { major: number; minor: number; op: string; value: number }[]>;
  network?: Record<string, Record<string, number>>;
}

/** Cgroup operations through `berth-init cgroup` (a short-lived single-threaded process). */
export const cgroup = {
  version: async () => ((await cli(['cgroup', 'version'])) as { version: 1 | 2 }).version,
  create: (path: string, resourcesFile?: string) =>
    cli(['cgroup', 'create', path, ...(resourcesFile ? [resourcesFile] : [])]) as Promise<CgroupResult>,
  update: (path: string, resourcesFile: string) => cli(['cgroup', 'update', path, resourcesFile]) as Promise<CgroupResult>,
  attach: (path: string, pid: number) => cli(['cgroup', 'attach', path, String(pid)]),
  freeze: (path: string) => cli(['cgroup', 'freeze', path]),
  thaw: (path: string) => cli(['cgroup', 'thaw', path]),
  kill: (path: string, signal = 9) => cli(['cgroup', 'kill', path, String(signal)]),
  remove: (path: string) => cli(['cgroup', 'remove', path]),
  stats: (path: string, pid?: number) =>
    cli(['cgroup', 'stats', path, ...(pid ? [String(pid)] : [])]) as Promise<CgroupStats>,
};

/**
 * A bridge endpoint over rtnetlink in one berth-init process (netlink.c): veth with its peer created in
 * /proc/<pid>/ns/net as `ifname`, host end on `bridge` and up; inside lo and `ifname` up, the address,
 * a default route via `gateway` unless one exists.
 */
export async function netAttach(a: {
  pid: number;
  hostVeth: string;
  bridge: string;
  ifname: string;
  mac: string;
  ip: string;
  prefix: number;
  gateway: string;
}): Promise<void> {
  await cli(['net-attach', String(a.pid), a.hostVeth, a.bridge, a.ifname, a.mac, a.ip, String(a.prefix), a.gateway]);
}

/** Compiles the default profile (or `profile`) for a capability set into raw BPF at `out`. */
export async function compileSeccomp(out: string, caps: string[], profile?: string): Promise<void> {
  await cli(['seccomp-compile', out, '--caps', caps.join(','), ...(profile ? ['--profile', profile] : [])]);
}
