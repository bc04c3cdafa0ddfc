/**
 * Containers benchmark (not a test): Berth side by side with the engine at DOCKER_HOST (when set),
 * driven by the same docker CLI, on the same busybox image pulled from a loopback registry.
 *
 *   run --rm true      `docker run --rm <net> busybox true`, N sequential runs, p50/p95 (ms)
 *   exec true          `docker exec c true` on a running container, N runs, p50/p95 (ms)
 *   50 concurrent -d   50 `docker run -d` at once: containers/s (50 / wall time), median of 3 rounds after
 *                      a warm-up round, each burst on a quiet machine; also the whole machine's CPU time
 *                      per container during the burst (docker CLIs included), median of the same rounds
 *
 * run, exec and concurrent take turns between the engines (a run on one, a run on the other, …): this
 * VM's speed drifts by a third within minutes, and one engine after the other measured two machines.
 *   list 200           GET /containers/json?all=1 with 200 containers: req/s (keep-alive, 16 in flight)
 *   logs 100k          `docker logs c >/dev/null` of 100k lines (ms, median of 5; line count verified)
 *   logs -f            `docker logs -f` of a container printing LOGS_F lines: lines/s (every line checked)
 *
 * Build and run as root (see bench/README.md):
 *   npx tsc -b test/e2e && npx tsc -p bench/containers
 *   DOCKER_HOST=unix:///tmp/ref/docker.sock node bench/containers/dist/run.js
 * Environment: N (30), CONCURRENT_ROUNDS (3), NETWORK (none: the reference runs --network none; Berth is measured both with
 * `none` and its default bridge), LIST_REQUESTS (2000), LOGS_F (500000), ONLY (comma list of
 * run,exec,concurrent,list,logs,follow), BERTH_SOCKET (measure an already running Berth instead of
 * starting one).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, request as httpRequest, Agent, type ServerResponse } from 'node:http';
import * as oci from '@berth/oci';
import * as ociTesting from '@berth/oci/dist/testing';

type Harness = typeof import('../../test/e2e/dist/harness');
type RunningBerth = import('../../test/e2e/dist/harness').RunningBerth;

// The harness is loaded from test/e2e's build output, whose path relative to this file's output differs
// from the source layout, so it is required by absolute path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const harness: Harness = require(join(__dirname, '..', '..', '..', 'test', 'e2e', 'dist', 'harness'));

const N = Number(process.env.N ?? 30);
const CONCURRENT_ROUNDS = Number(process.env.CONCURRENT_ROUNDS ?? 3);
const LIST_REQUESTS = Number(process.env.LIST_REQUESTS ?? 2000);
const LOGS_LINES = 100_000;
const LOGS_F = Number(process.env.LOGS_F ?? 500_000);
const ONLY = new Set((process.env.ONLY ?? 'run,exec,concurrent,list,logs,follow').split(','));
const RUN_ID = `bench${process.pid}`;
const LABEL = `berth-bench=${RUN_ID}`;

const now = () => Number(process.hrtime.bigint()) / 1e6;
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

interface Engine {
  readonly name: string;
  readonly socket: string;
  readonly env: NodeJS.ProcessEnv;
}

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** docker -H unix://<socket> args; stdout captured unless `devnull`. */
function docker(e: Engine, args: string[], opts: { devnull?: boolean; timeoutMs?: number } = {}): Promise<Exec> {
  return new Promise((resolve) => {
    const out = opts.devnull ? openSync('/dev/null', 'w') : undefined;
    const t0 = now();
    const child = spawn(harness.dockerCommand, ['-H', `unix://${e.socket}`, ...args], {
      env: e.env,
      stdio: ['ignore', out ?? 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      const ms = now() - t0;
      clearTimeout(timer);
      if (out !== undefined) closeSync(out);
      resolve({ code: code ?? 1, stdout, stderr, ms });
    });
  });
}

async function must(e: Engine, args: string[], opts?: { devnull?: boolean; timeoutMs?: number }): Promise<Exec> {
  const r = await docker(e, args, opts);
  if (r.code !== 0) throw new Error(`${e.name}: docker ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(0, 2000)}`);
  return r;
}

async function pool<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]!);
    }),
  );
}

async function removeAll(e: Engine): Promise<void> {
  const ps = await docker(e, ['ps', '-aq', '--no-trunc', '--filter', `label=${LABEL}`]);
  const ids = ps.stdout.split('\n').filter(Boolean);
  for (let i = 0; i < ids.length; i += 50) await docker(e, ['rm', '-f', ...ids.slice(i, i + 50)], { timeoutMs: 300_000 });
}

// ---- the measurements ------------------------------------------------------------------------------

type Figures = Record<string, string>;

/** p50/p95 of each engine's samples. */
const quantiles = (samples: number[][]) => samples.map((t) => ({ p50: pct(t, 50), p95: pct(t, 95) }));

/**
 * `docker run --rm … true`, N times per engine, the engines taking turns (one run each, then again):
 * this VM's speed drifts by a third within minutes, and taking turns puts both engines under the same
 * drift, where measuring one after the other compared two different machines.
 */
async function benchRun(engines: Engine[], image: string, network: string | undefined): Promise<{ p50: number; p95: number }[]> {
  const net = network ? ['--network', network] : [];
  const args = ['run', '--rm', ...net, '--label', LABEL, image, 'true'];
  for (const e of engines) await must(e, args); // warm-up
  const times: number[][] = engines.map(() => []);
  for (let i = 0; i < N; i++) for (const [k, e] of engines.entries()) times[k]!.push((await must(e, args)).ms);
  return quantiles(times);
}

/** `docker exec c true` on a running container of each engine, N times each, taking turns (see benchRun). */
async function benchExec(engines: Engine[], image: string, network: string): Promise<{ p50: number; p95: number }[]> {
  const ids: string[] = [];
  try {
    for (const e of engines) {
      ids.push((await must(e, ['run', '-d', '--network', network, '--label', LABEL, image, 'sleep', '3600'])).stdout.trim());
      await must(e, ['exec', ids.at(-1)!, 'true']);
    }
    const times: number[][] = engines.map(() => []);
    for (let i = 0; i < N; i++) for (const [k, e] of engines.entries()) times[k]!.push((await must(e, ['exec', ids[k]!, 'true'])).ms);
    return quantiles(times);
  } finally {
    for (const [k, id] of ids.entries()) await docker(engines[k]!, ['rm', '-f', id]);
  }
}

/** The machine's busy and total CPU ticks so far (/proc/stat's first line). */
function cpuTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** ms of CPU time in one /proc/stat tick */
const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

/** 50 `docker run -d` at once against `e`, on a quiet machine: containers/s and the machine's CPU ms per container. */
async function burst50(e: Engine, args: string[]): Promise<{ rate: number; cpuMs: number }> {
  await quiet();
  const t0 = now();
  const c0 = cpuTicks();
  const results = await Promise.all(Array.from({ length: 50 }, () => docker(e, args, { timeoutMs: 300_000 })));
  const ms = now() - t0;
  const cpuMs = ((cpuTicks().busy - c0.busy) * TICK_MS) / 50;
  const failed = results.filter((x) => x.code !== 0);
  if (failed.length) throw new Error(`${e.name}: ${failed.length}/50 concurrent runs failed: ${failed[0]!.stderr.trim()}`);
  return { rate: (50 * 1000) / ms, cpuMs };
}

/**
 * Waits (at most 30 s) until the machine has been mostly idle (< 25% busy) for half a second: what an
 * engine still does after the previous round's `rm -f` (dockerd's and the kernel's namespace teardown,
 * Berth's background runtime removal) must not land in the next burst, whichever engine's it is.
 */
async function quiet(): Promise<void> {
  const deadline = now() + 30_000;
  let calm = 0;
  let prev = cpuTicks();
  while (calm < 2 && now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const cur = cpuTicks();
    calm = (cur.busy - prev.busy) / Math.max(1, cur.total - prev.total) < 0.25 ? calm + 1 : 0;
    prev = cur;
  }
}

/**
 * 50 concurrent `docker run -d`, the engines taking turns; each burst starts on a quiet machine, and a
 * first unmeasured burst per engine warms it up (Berth's services are JIT-compiled: a freshly started
 * engine's first burst runs mostly unoptimized code, as dockerd's never does).
 */
async function benchConcurrent(engines: Engine[], image: string, network: string): Promise<{ rate: number; cpuMs: number }[]> {
  const rounds: { rate: number; cpuMs: number }[][] = engines.map(() => []);
  const burst = async (e: Engine) => {
    try {
      return await burst50(e, ['run', '-d', '--network', network, '--label', LABEL, image, 'sleep', '3600']);
    } finally {
      await removeAll(e);
    }
  };
  for (const e of engines) await burst(e); // warm-up
  for (let r = 0; r < CONCURRENT_ROUNDS; r++) for (const [k, e] of engines.entries()) rounds[k]!.push(await burst(e));
  return rounds.map((x) => ({ rate: pct(x.map((b) => b.rate), 50), cpuMs: pct(x.map((b) => b.cpuMs), 50) }));
}

function getJson(agent: Agent, socket: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: socket, path, agent, headers: { Host: 'docker' } }, (res) => {
      let n = 0;
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`GET ${path}: ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function benchList(e: Engine, image: string, network: string): Promise<{ rps: number; count: number }> {
  const names = Array.from({ length: 200 }, (_, i) => `${RUN_ID}-l${i}`);
  await pool(names, 8, async (name) => {
    await must(e, ['create', '--name', name, '--network', network, '--label', LABEL, image, 'true']);
  });
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  try {
    const check = await new Promise<unknown[]>((resolve, reject) => {
      httpRequest({ socketPath: e.socket, path: '/v1.41/containers/json?all=1', agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve(JSON.parse(body) as unknown[]));
      })
        .on('error', reject)
        .end();
    });
    const count = check.length;
    for (let i = 0; i < 50; i++) await getJson(agent, e.socket, '/v1.41/containers/json?all=1');
    let left = LIST_REQUESTS;
    const t0 = now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (left-- > 0) await getJson(agent, e.socket, '/v1.41/containers/json?all=1');
      }),
    );
    return { rps: (LIST_REQUESTS * 1000) / (now() - t0), count };
  } finally {
    agent.destroy();
    await removeAll(e);
  }
}

async function waitExited(e: Engine, id: string): Promise<void> {
  await must(e, ['wait', id], { timeoutMs: 300_000 });
}

async function benchLogs(e: Engine, image: string, network: string): Promise<{ ms: number; lines: number }> {
  const id = (await must(e, ['run', '-d', '--network', network, '--label', LABEL, image, 'seq', '1', String(LOGS_LINES)])).stdout.trim();
  try {
    await waitExited(e, id);
    const check = await must(e, ['logs', id]);
    const lines = check.stdout.split('\n').filter(Boolean);
    const ok = lines.length === LOGS_LINES && lines[0] === '1' && lines[LOGS_LINES - 1] === String(LOGS_LINES);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push((await must(e, ['logs', id], { devnull: true })).ms);
    return { ms: pct(times, 50), lines: ok ? lines.length : -lines.length };
  } finally {
    await docker(e, ['rm', '-f', id]);
  }
}

/** `docker logs -f` from before the first line until the container's exit; every line must arrive, in order. */
async function benchFollow(e: Engine, image: string, network: string): Promise<{ lps: number; lines: number; lost: number }> {
  const id = (
    await must(e, ['run', '-d', '--network', network, '--label', LABEL, image, 'sh', '-c', `sleep 1; seq 1 ${LOGS_F}`])
  ).stdout.trim();
  try {
    const result = await new Promise<{ lps: number; lines: number; lost: number }>((resolve, reject) => {
      const child = spawn(harness.dockerCommand, ['-H', `unix://${e.socket}`, 'logs', '-f', id], { env: e.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let first = 0;
      let last = 0;
      let lines = 0;
      let expect = 1;
      let lost = 0;
      let rest = '';
      child.stdout.setEncoding('latin1').on('data', (d: string) => {
        const t = now();
        if (!first) first = t;
        last = t;
        const parts = (rest + d).split('\n');
        rest = parts.pop()!;
        for (const p of parts) {
          lines++;
          const v = Number(p);
          if (v !== expect) lost += Math.max(0, v - expect);
          expect = v + 1;
        }
      });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code !== 0) reject(new Error(`${e.name}: logs -f exited ${code}: ${err.trim()}`));
        lost += Math.max(0, LOGS_F - (expect - 1));
        resolve({ lps: (lines * 1000) / Math.max(1, last - first), lines, lost });
      });
    });
    return result;
  } finally {
    await docker(e, ['rm', '-f', id]);
  }
}

/**
 * One measurement, when ONLY names it: its time is reported; an error is recorded in `f` (`<key>:error`)
 * and the engines' bench containers are removed, so the next measurement starts clean.
 */
async function runStep(key: string, label: string, f: Figures, engines: Engine[], fn: () => Promise<void>): Promise<void> {
  if (!ONLY.has(key)) return;
  const t0 = now();
  try {
    await fn();
  } catch (err) {
    f[`${key}:error`] = (err as Error).message;
    console.error(`  ${label}${key}: ${(err as Error).message}`);
    for (const e of engines) await removeAll(e).catch(() => undefined);
  }
  console.error(`  ${label}${key}: done in ${((now() - t0) / 1000).toFixed(1)} s`);
}

/** The measurements where the engines take turns (run, exec, concurrent): one Figures per engine. */
async function measurePaired(engines: Engine[], image: string, network: string, results: Figures[]): Promise<void> {
  const step = (key: string, fn: () => Promise<void>) => runStep(key, '', results[0]!, engines, fn);
  await step('run', async () => {
    for (const [k, r] of (await benchRun(engines, image, network)).entries()) {
      results[k]!.runP50 = r.p50.toFixed(0);
      results[k]!.runP95 = r.p95.toFixed(0);
    }
    const b = (await benchRun([engines[0]!], image, undefined))[0]!; // Berth on its default bridge
    results[0]!.runBridgeP50 = b.p50.toFixed(0);
    results[0]!.runBridgeP95 = b.p95.toFixed(0);
  });
  await step('exec', async () => {
    for (const [k, r] of (await benchExec(engines, image, network)).entries()) {
      results[k]!.execP50 = r.p50.toFixed(0);
      results[k]!.execP95 = r.p95.toFixed(0);
    }
  });
  await step('concurrent', async () => {
    for (const [k, r] of (await benchConcurrent(engines, image, network)).entries()) {
      results[k]!.concurrent = r.rate.toFixed(1);
      results[k]!.concurrentCpu = r.cpuMs.toFixed(1);
    }
  });
}

/** The measurements of one engine alone (list, logs, follow). */
async function measure(e: Engine, image: string, network: string, f: Figures): Promise<void> {
  const step = (key: string, fn: () => Promise<void>) => runStep(key, `${e.name} `, f, [e], fn);
  await step('list', async () => {
    const r = await benchList(e, image, network);
    f.list = r.rps.toFixed(0);
    f.listCount = String(r.count);
  });
  await step('logs', async () => {
    const r = await benchLogs(e, image, network);
    f.logs = r.ms.toFixed(0);
    f.logsLines = String(r.lines);
  });
  await step('follow', async () => {
    const r = await benchFollow(e, image, network);
    f.follow = (r.lps / 1000).toFixed(0);
    f.followLines = String(r.lines);
    f.followLost = String(r.lost);
  });
}

// ---- the table -----------------------------------------------------------------------------------

function table(berth: Figures, ref: Figures | undefined, network: string): string {
  const num = (f: Figures | undefined, k: string) => (f && f[k] !== undefined ? Number(f[k]) : NaN);
  const rows: [string, string, string, string, string][] = [];
  /** lowerIsBetter: ratio = berth/ref, target is a maximum; else ratio = berth/ref, target a minimum. */
  const row = (what: string, k: string, unit: string, target: number | null, lowerIsBetter: boolean, extra = (_f?: Figures) => '') => {
    const b = num(berth, k);
    const r = num(ref, k);
    const ratio = b / r;
    let verdict = '';
    if (target !== null && Number.isFinite(ratio)) {
      const ok = lowerIsBetter ? ratio <= target : ratio >= target;
      verdict = `${ratio.toFixed(2)}x (target ${lowerIsBetter ? '<=' : '>='} ${target}x) ${ok ? 'OK' : 'MISS'}`;
    } else if (Number.isFinite(ratio)) verdict = `${ratio.toFixed(2)}x`;
    const show = (f: Figures | undefined, v: number) =>
      f?.[`${k.replace(/P\d+$/, '').replace(/Bridge$/, '')}:error`] ? 'error' : Number.isFinite(v) ? `${v} ${unit}${extra(f)}` : '-';
    rows.push([what, show(berth, b), ref ? show(ref, r) : '-', verdict, '']);
  };
  row(`run --rm true p50 (--network ${network})`, 'runP50', 'ms', 0.2, true);
  row(`run --rm true p95 (--network ${network})`, 'runP95', 'ms', null, true);
  if (berth.runBridgeP50) {
    rows.push([`run --rm true p50/p95 (Berth default bridge)`, `${berth.runBridgeP50}/${berth.runBridgeP95} ms`, '-', '', '']);
  }
  row('exec true p50', 'execP50', 'ms', 0.4, true);
  row('exec true p95', 'execP95', 'ms', null, true);
  row('50 concurrent run -d', 'concurrent', 'ctr/s', 6, false);
  row('  machine CPU per container in them', 'concurrentCpu', 'ms', null, true);
  row('GET /containers/json?all=1 (200)', 'list', 'req/s', 10, false, (f) => (f?.listCount && f.listCount !== '200' ? ` [saw ${f.listCount}]` : ''));
  // logs: time, so the speed-up is ref/berth
  const lb = num(berth, 'logs');
  const lr = num(ref, 'logs');
  const lines = (f?: Figures) => (f?.logsLines ? (f.logsLines === String(LOGS_LINES) ? '' : ` [LINES ${f.logsLines}]`) : '');
  rows.push([
    'docker logs 100k lines',
    berth['logs:error'] ? 'error' : Number.isFinite(lb) ? `${lb} ms${lines(berth)}` : '-',
    ref ? (ref['logs:error'] ? 'error' : Number.isFinite(lr) ? `${lr} ms${lines(ref)}` : '-') : '-',
    Number.isFinite(lr / lb) ? `${(lr / lb).toFixed(2)}x faster (target >= 3x) ${lr / lb >= 3 ? 'OK' : 'MISS'}` : '',
    '',
  ]);
  row(`logs -f (${LOGS_F} lines)`, 'follow', 'k lines/s', 3, false, (f) => (f?.followLost && f.followLost !== '0' ? ` [LOST ${f.followLost}]` : f?.followLost === '0' ? ' (none lost)' : ''));
  const head: [string, string, string, string, string] = ['benchmark', 'Berth', ref ? 'reference' : 'reference (DOCKER_HOST unset)', 'Berth vs reference', ''];
  const all = [head, ...rows];
  const w = [0, 1, 2, 3].map((i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.slice(0, 4).map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---- the client floor -----------------------------------------------------------------------------

/**
 * A do-nothing engine: answers `docker run --rm` (create, attach, wait, start) and `docker exec`
 * (inspect, exec create, start, inspect) at once, with no container. The same commands against it
 * measure what the docker CLI and this harness cost on their own, the part no engine can remove.
 */
async function startFloorEngine(dir: string): Promise<{ socket: string; close: () => Promise<void> }> {
  const socket = join(dir, 'floor.sock');
  let waiters: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const url = (req.url ?? '/').replace(/^\/v[0-9.]+/, '');
    res.setHeader('Api-Version', '1.43');
    res.setHeader('Content-Type', 'application/json');
    const reply = (status: number, body: string) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = status;
        res.end(body);
      });
    };
    if (url.startsWith('/_ping')) reply(200, 'OK');
    else if (url.startsWith('/containers/create')) reply(201, '{"Id":"floor","Warnings":[]}');
    else if (/^\/containers\/[^/]+\/wait/.test(url)) {
      res.writeHead(200);
      res.flushHeaders();
      waiters.push(res);
    } else if (/^\/containers\/[^/]+\/start/.test(url)) {
      reply(204, '');
      // the container "exits" at once: every waiting wait answers
      for (const w of waiters) w.end('{"StatusCode":0}\n');
      waiters = [];
    } else if (/^\/containers\/[^/]+\/exec$/.test(url)) reply(201, '{"Id":"floorexec"}');
    else if (/^\/exec\/[^/]+\/json/.test(url)) reply(200, '{"ID":"floorexec","Running":false,"ExitCode":0,"Pid":1}');
    else if (/^\/containers\/[^/]+\/json/.test(url)) reply(200, '{"Id":"floor","State":{"Running":true,"Status":"running"},"Config":{"Tty":false}}');
    else reply(404, '{"message":"not in the floor engine"}');
  });
  // attach and exec start, hijacked: the stream ends at once (nothing to print)
  const hijacked = new Set<import('node:net').Socket>();
  server.on('upgrade', (_req, sock: import('node:net').Socket) => {
    hijacked.add(sock);
    sock.on('close', () => hijacked.delete(sock));
    sock.end('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    socket,
    close: () =>
      new Promise((resolve) => {
        for (const w of waiters) w.destroy();
        for (const h of hijacked) h.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
        setTimeout(resolve, 1000).unref();
      }),
  };
}

async function benchFloor(env: NodeJS.ProcessEnv, dir: string): Promise<Figures> {
  const floor = await startFloorEngine(dir);
  const e: Engine = { name: 'floor', socket: floor.socket, env };
  try {
    const time = async (args: string[]) => {
      await must(e, args);
      const times: number[] = [];
      for (let i = 0; i < N; i++) times.push((await must(e, args)).ms);
      return pct(times, 50);
    };
    const f: Figures = {};
    if (ONLY.has('run') || ONLY.has('exec')) {
      f.runP50 = (await time(['run', '--rm', '--network', 'none', 'floor', 'true'])).toFixed(0);
      f.execP50 = (await time(['exec', 'floor', 'true'])).toFixed(0);
    }
    if (ONLY.has('concurrent')) {
      // as the engines' bursts: a warm-up, then the median of CONCURRENT_ROUNDS
      const args = ['run', '-d', '--network', 'none', 'floor', 'sleep', '3600'];
      await burst50(e, args);
      const rounds: { rate: number; cpuMs: number }[] = [];
      for (let r = 0; r < CONCURRENT_ROUNDS; r++) rounds.push(await burst50(e, args));
      f.concurrent = pct(rounds.map((b) => b.rate), 50).toFixed(1);
      f.concurrentCpu = pct(rounds.map((b) => b.cpuMs), 50).toFixed(1);
    }
    return f;
  } finally {
    await floor.close();
  }
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const network = process.env.NETWORK ?? 'none';
  const refHost = process.env.DOCKER_HOST;
  const cleanups: (() => Promise<unknown>)[] = [];
  const dockerConfig = mkdtempSync(join(tmpdir(), 'berth-bench-dockercfg-'));
  cleanups.push(async () => rmSync(dockerConfig, { recursive: true, force: true }));
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' };
  delete baseEnv.DOCKER_HOST;
  delete baseEnv.DOCKER_CONTEXT;
  let berth: RunningBerth | undefined;
  const client = new oci.RegistryClient();
  let reg: Awaited<ReturnType<typeof ociTesting['startTestRegistry']>> | undefined;
  try {
    reg = await ociTesting.startTestRegistry();
    const busybox = ociTesting.buildImage([await ociTesting.buildLayer(ociTesting.busyboxRootfsEntries())], {
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    });
    const image = `${reg.host}/busybox:bench`;
    await ociTesting.pushImage(client.repository(oci.parseReference(image), undefined, { push: true }), busybox, 'bench');

    let berthEngine: Engine;
    if (process.env.BERTH_SOCKET) {
      berthEngine = { name: 'berth', socket: process.env.BERTH_SOCKET, env: baseEnv };
    } else {
      console.error('starting Berth…');
      // As a real Berth runs: favordynmods on (a host-wide setting; see docs/architecture.md). The
      // executor puts the shims' state dirs on a tmpfs wherever the exec root is (ensureStateTmpfs).
      berth = await harness.startBerth({ config: { 'cgroup-favor-dynmods': true } });
      berthEngine = { name: 'berth', socket: berth.socket, env: { ...baseEnv, ...berth.env, DOCKER_CONFIG: dockerConfig } };
      delete (berthEngine.env as Record<string, unknown>).DOCKER_HOST;
    }
    const engines: Engine[] = [berthEngine];
    if (refHost) {
      if (!refHost.startsWith('unix://')) throw new Error('DOCKER_HOST must be unix://<socket>');
      engines.push({ name: 'reference', socket: refHost.slice('unix://'.length), env: baseEnv });
    }
    for (const e of engines) {
      await must(e, ['pull', '-q', image], { timeoutMs: 300_000 });
      cleanups.push(async () => {
        await removeAll(e);
        if (e.name === 'reference' || process.env.BERTH_SOCKET) await docker(e, ['rmi', '-f', image]);
      });
    }
    const results: Figures[] = engines.map(() => ({}));
    console.error(`measuring run, exec, concurrent, the engines taking turns (N=${N}, ${CONCURRENT_ROUNDS} concurrent rounds)…`);
    await measurePaired(engines, image, network, results);
    for (const [k, e] of engines.entries()) {
      console.error(`measuring ${e.name}…`);
      await measure(e, image, network, results[k]!);
    }
    console.log(`\ncontainers benchmark, ${new Date().toISOString()}, N=${N}, --network ${network} on both (Berth also with its default bridge)\n`);
    console.log(table(results[0]!, results[1], network));
    if (ONLY.has('run') || ONLY.has('exec') || ONLY.has('concurrent')) {
      const floor = await benchFloor(baseEnv, dockerConfig);
      const target = (key: string, share: number) => (results[1]?.[key] ? ` (the target: ${(Number(results[1][key]) * share).toFixed(0)} ms)` : '');
      const parts: string[] = [];
      if (floor.runP50) parts.push(`run --rm ${floor.runP50} ms${target('runP50', 0.2)}`, `exec ${floor.execP50} ms${target('execP50', 0.4)}`);
      if (floor.concurrent) {
        parts.push(
          `50 concurrent run -d ${floor.concurrent} ctr/s at ${floor.concurrentCpu} ms of machine CPU per container` +
            (results[1]?.concurrent ? ` (the target: ${(Number(results[1].concurrent) * 6).toFixed(1)} ctr/s)` : ''),
        );
      }
      console.log(`\nclient floor (the same commands against a do-nothing engine, this harness): ${parts.join(', ')}`);
      for (const [k, v] of Object.entries(floor)) results[0]![`floor${k[0]!.toUpperCase()}${k.slice(1)}`] = v;
    }
    const errors = results.flatMap((f, i) => Object.entries(f).filter(([k]) => k.endsWith(':error')).map(([k, v]) => `${engines[i]!.name} ${k}: ${v}`));
    if (errors.length) console.log(`\nerrors:\n${errors.join('\n')}`);
    console.log(`\nraw: ${JSON.stringify(Object.fromEntries(engines.map((e, i) => [e.name, results[i]])))}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e: Error) => console.error(`cleanup: ${e.message}`));
    await berth?.stop().catch((e: Error) => console.error(`stopping Berth: ${e.message}`));
    await reg?.stop().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
  },
);
