import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BerthConfig } from '@berth/config';
import { repoRoot, type ProcessSpec } from './layout';

export const pidFile = (config: Pick<BerthConfig, 'runDir'>, name: string) => join(config.runDir, `${name}.pid`);
export const logFile = (config: Pick<BerthConfig, 'logDir'>, name: string) => join(config.logDir, `${name}.log`);

/** The pid on the first line (pid files; Postgres's postmaster.pid has more lines after it). */
export function parsePid(text: string): number | null {
  const n = Number(text.split('\n')[0].trim());
  return Number.isInteger(n) && n > 1 ? n : null;
}

export function readPid(path: string): number | null {
  try {
    return parsePid(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}

/** Alive and not a zombie; when `expect` is given, its command line must mention it (pid reuse). */
export function isAlive(pid: number, expect?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    if (expect) {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(expect)) return false;
    }
  } catch {
    // no /proc: trust kill(0)
  }
  return true;
}

export interface ProcessState {
  readonly name: string;
  readonly pid: number | null;
  readonly alive: boolean;
}

export function processState(config: BerthConfig, spec: ProcessSpec): ProcessState {
  const pid = readPid(pidFile(config, spec.name));
  return { name: spec.name, pid, alive: pid !== null && isAlive(pid, spec.main) };
}

export interface Started {
  readonly pid: number;
  /** set once the child exits while this CLI is still running */
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
}

/** Starts `node <main>` in the background: own session, stdout/stderr appended to its log, a pid file. */
export function startProcess(config: BerthConfig, spec: ProcessSpec, env: NodeJS.ProcessEnv): Started {
  const main = join(repoRoot, spec.main);
  if (!existsSync(main)) {
    throw new Error(`${spec.main} is missing: the ${spec.name} build has no output (run: npx tsc -b tsconfig.build.json)`);
  }
  mkdirSync(config.logDir, { recursive: true });
  mkdirSync(config.runDir, { recursive: true });
  const log = logFile(config, spec.name);
  const fd = openSync(log, 'a');
  writeSync(fd, `\n--- berth up: starting ${spec.name} (${spec.main}) at ${new Date().toISOString()} ---\n`);
  // BERTH_NODE_ARGS: extra node flags for every process (profiling: "--cpu-prof --cpu-prof-dir=/tmp/prof").
  const nodeArgs = (process.env.BERTH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, main], {
    cwd: repoRoot,
    env,
    ...(spec.privileged ? {} : unprivileged()),
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${spec.name}`);
  const started: Started = { pid: child.pid, exited: null };
  child.on('exit', (code, signal) => {
    started.exited = { code, signal };
  });
  child.on('error', () => {
    started.exited = { code: null, signal: null };
  });
  child.unref();
  writeFileSync(pidFile(config, spec.name), `${child.pid}\n`);
  return started;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait up to `timeoutMs`, then SIGKILL. Returns how it ended. */
export async function stopPid(pid: number, expect: string | undefined, timeoutMs: number): Promise<'stopped' | 'killed' | 'gone'> {
  if (!isAlive(pid, expect)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(100);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  for (let i = 0; i < 50 && isAlive(pid); i++) await sleep(100);
  return 'killed';
}

export function removePidFile(config: BerthConfig, name: string): void {
  rmSync(pidFile(config, name), { force: true });
}

/** The last `lines` lines of a file ('' when missing). */
export function tail(path: string, lines: number): string {
  try {
    const text = readFileSync(path, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return '';
  }
}

/** `nobody`, when we are root and nobody can read the checkout (a clone under /root cannot). */
const NOBODY = 65534;
let dropTo: { uid: number; gid: number } | null | undefined;
export function unprivileged(): { uid: number; gid: number } | Record<string, never> {
  if (dropTo === undefined) {
    dropTo = process.getuid?.() === 0 && othersCanRead(repoRoot) ? { uid: NOBODY, gid: NOBODY } : null;
  }
  return dropTo ?? {};
}

function othersCanRead(dir: string): boolean {
  // Every ancestor must be searchable by others (o+x); the tree itself is checked at its root.
  for (let p = dir; ; p = dirname(p)) {
    try {
      if ((statSync(p).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (p === dirname(p)) return true;
  }
}
