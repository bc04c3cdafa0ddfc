/**
 * Black-box tests of build/berth-shim through its sockets, with --exec-direct (no berth-init,
 * no namespaces) and /bin/sh as the container. Build first: `make -C executor-native/src/shim`.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { after, afterEach, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createTempDir, waitFor, type TempDir } from '@berth/testing';
import {
  defaultShimPath,
  parseReadyLine,
  parseStdcopy,
  shimArgs,
  ShimClient,
  ShimError,
  spawnShim,
  type ShimSpawnOptions,
} from './shim-client';

const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$/;
const shimPath = defaultShimPath();

interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

const pids = new Set<number>();
const parents = new Set<ChildProcess>();
let tmp: TempDir;
let seq = 0;

function kill(pid: number, sig: NodeJS.Signals = 'SIGKILL') {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

function alive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A fresh state dir + log path, and the options for a shim running argv directly. */
function opts(argv: string[], extra: Partial<ShimSpawnOptions> = {}): ShimSpawnOptions {
  const id = `c${++seq}`;
  return {
    id,
    stateDir: join(tmp.path, id),
    logPath: join(tmp.path, `${id}-json.log`),
    execDirect: argv,
    ...extra,
  };
}

async function startShim(o: ShimSpawnOptions) {
  const ready = await spawnShim(o);
  pids.add(ready.shimPid);
  pids.add(ready.pid);
  return { ready, client: new ShimClient(o.stateDir) };
}

function readLog(path: string): LogEntry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogEntry);
}

function collect(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.resume();
  });
}

/** Runs the shim under a throwaway `sh` (the stand-in executor) whose fd 3 is a file. */
async function spawnUnderThrowawayParent(o: ShimSpawnOptions) {
  const readyFile = join(tmp.path, `${o.id}.ready`);
  const parent = spawn('/bin/sh', ['-c', '"$0" "$@" 3>"$READY"; exec sleep 1000', shimPath, ...shimArgs(o)], {
    env: { ...process.env, READY: readyFile },
    stdio: 'ignore',
  });
  parents.add(parent);
  const line = await waitFor(() => {
    const s = existsSync(readyFile) ? readFileSync(readyFile, 'utf8') : '';
    return s.includes('\n') ? s.trim() : '';
  });
  const ready = parseReadyLine(line);
  pids.add(ready.shimPid);
  pids.add(ready.pid);
  return { parent, ready, client: new ShimClient(o.stateDir) };
}

describe('berth-shim', () => {
  before(() => {
    assert.ok(existsSync(shimPath), `${shimPath} missing: run make -C executor-native/src/shim`);
    tmp = createTempDir('berth-shim-');
  });

  afterEach(async () => {
    for (const p of parents) p.kill('SIGKILL');
    parents.clear();
    for (const pid of pids) kill(pid);
    await waitFor(() => [...pids].every((p) => !alive(p) || isZombieOfOther(p)), 5000);
    pids.clear();
  });

  after(() => tmp.remove());

  it('writes stdout and stderr to the json-file log, records exit code and time', async () => {
    const o = opts(['/bin/sh', '-c', 'echo out; echo err >&2; printf \'a\\tb<&>"\\\\\\n\'; printf tail; exit 3']);
    const { client, ready } = await startShim(o);
    assert.equal((await client.state()).status, 'created');
    const exit = client.subscribeExit();
    const started = await client.start();
    assert.equal(started.pid, ready.pid);
    assert.match(started.startedAt, TIME_RE);
    const e = await exit;
    assert.equal(e.exitCode, 3);
    assert.equal(e.signal, null);
    assert.equal(e.pid, ready.pid);
    assert.match(e.exitedAt, TIME_RE);
    assert.deepEqual(client.readExitFile(), e);

    const st = await client.state();
    assert.equal(st.status, 'exited');
    assert.equal(st.exitCode, 3);
    assert.equal(st.exitedAt, e.exitedAt);

    const log = readLog(o.logPath);
    for (const l of log) assert.match(l.time, TIME_RE);
    const out = log.filter((l) => l.stream === 'stdout').map((l) => l.log);
    const err = log.filter((l) => l.stream === 'stderr').map((l) => l.log);
    assert.deepEqual(out, ['out\n', 'a\tb<&>"\\\n', 'tail']);
    assert.deepEqual(err, ['err\n']);
    const raw = readFileSync(o.logPath, 'utf8');
    // Docker's escaping, not JSON.stringify's: tab and HTML characters as \u00XX.
    assert.ok(raw.includes('"log":"a\\u0009b\\u003c\\u0026\\u003e\\"\\\\\\n","stream":"stdout","time":"'), raw);
    assert.match(raw.split('\n')[0]!, /^\{"log":"out\\n","stream":"stdout","time":"[^"]+"\}$/);
    await client.shutdown();
    await waitFor(() => !alive(ready.shimPid));
    assert.ok(!existsSync(client.controlPath));
    assert.equal(client.readExitFile()?.exitCode, 3);
  });

  it('cuts lines at 16 KiB like Docker (partial entries have no newline)', async () => {
    const o = opts(['/bin/sh', '-c', "head -c 20000 /dev/zero | tr '\\0' x; echo"]);
    const { client } = await startShim(o);
    const exit = client.subscribeExit();
    await client.start();
    assert.equal((await exit).exitCode, 0);
    const log = readLog(o.logPath).map((l) => l.log);
    assert.deepEqual(
      log.map((l) => l.length),
      [16384, 3617],
    );
    assert.equal(log[0], 'x'.repeat(16384));
    assert.equal(log[1], 'x'.repeat(3616) + '\n');
  });

  it('escapes like Docker: multibyte, control bytes, U+2028, invalid UTF-8 as U+FFFD', async () => {
    const text = 'héllo wörld ✓ 🙂 \u0001\u001b[0m \u2029 end\n';
    const file = join(tmp.path, 'utf8.txt');
    writeFileSync(file, Buffer.concat([Buffer.from(text), Buffer.from([0xff, 0xc3, 0x28, 0xe2, 0x80, 0xa8, 0xed, 0xa0, 0x80, 0x0a])]));
    const o = opts(['/bin/cat', file]);
    const { client } = await startShim(o);
    const exit = client.subscribeExit();
    await client.start();
    await exit;
    const log = readLog(o.logPath).map((l) => l.log);
    assert.deepEqual(log, [text, '\ufffd\ufffd(\u2028\ufffd\ufffd\ufffd\n']);
    const raw = readFileSync(o.logPath, 'utf8');
    assert.ok(raw.includes('"log":"héllo wörld ✓ 🙂 \\u0001\\u001b[0m \\u2029 end\\n"'), raw);
    assert.ok(raw.includes('"log":"\\ufffd\\ufffd(\\u2028\\ufffd\\ufffd\\ufffd\\n"'), raw);
  });

  it('writes valid JSON lines for arbitrary bytes', async () => {
    const o = opts(['/bin/sh', '-c', 'head -c 300000 /dev/urandom']);
    const { client } = await startShim(o);
    const exit = client.subscribeExit();
    await client.start();
    await exit;
    const log = readLog(o.logPath); // throws on an invalid line
    assert.ok(log.length > 1000);
    assert.ok(log.every((l) => l.log.length <= 16384 && l.stream === 'stdout'));
  });

  it('rotates at max-size keeping max-file files', async () => {
    const script = 'i=0; while [ $i -lt 200 ]; do echo line-$i; i=$((i+1)); done';
    const o = opts(['/bin/sh', '-c', script], { logMaxSize: 1000, logMaxFile: 3 });
    const { client } = await startShim(o);
    const exit = client.subscribeExit();
    await client.start();
    await exit;
    assert.ok(existsSync(`${o.logPath}.1`) && existsSync(`${o.logPath}.2`));
    assert.ok(!existsSync(`${o.logPath}.3`));
    for (const f of [o.logPath, `${o.logPath}.1`, `${o.logPath}.2`]) {
      // Rotation happens before a write once the file has reached max-size: one entry over at most.
      assert.ok(statSync(f).size < 1000 + 100, `${f} is ${statSync(f).size} bytes`);
    }
    const all = [`${o.logPath}.2`, `${o.logPath}.1`, o.logPath].flatMap((f) => readLog(f).map((l) => l.log));
    const nums = all.map((l) => Number(/^line-(\d+)\n$/.exec(l)![1]));
    assert.equal(nums.at(-1), 199);
    nums.forEach((n, i) => i > 0 && assert.equal(n, nums[i - 1]! + 1));
    assert.ok(nums[0]! > 0, 'older entries were rotated away');
  });

  it('delivers signals: sleep killed by TERM exits 143', async () => {
    const o = opts(['/bin/sleep', '100']);
    const { client } = await startShim(o);
    await client.start();
    assert.equal((await client.state()).status, 'running');
    const exit = client.subscribeExit();
    await client.signal('TERM');
    const e = await exit;
    assert.equal(e.exitCode, 143);
    assert.equal(e.signal, 15);
    await assert.rejects(client.signal(9), (err: ShimError) => err.code === 'not_running');
  });

  it('reports a failed exec as a start error and exit 127', async () => {
    const o = opts(['/nonexistent/cmd']);
    const { client } = await startShim(o);
    const exit = client.subscribeExit();
    await assert.rejects(client.start(), (err: ShimError) => {
      assert.equal(err.code, 'start_failed');
      assert.equal(err.detail?.stage, 'exec');
      assert.equal(err.detail?.errno, 2);
      assert.match(err.message, /executable file not found/);
      return true;
    });
    assert.equal((await exit).exitCode, 127);
  });

  it('relays a create failure on the ready fd and goes away', async () => {
    const o = opts([], { execDirect: undefined, bundle: tmp.path, initPath: '/nonexistent/berth-init' });
    await assert.rejects(spawnShim(o), (err: ShimError) => {
      assert.equal(err.code, 'create_failed');
      assert.equal(err.detail?.stage, 'shim');
      assert.equal(err.detail?.syscall, 'execve');
      assert.equal(err.detail?.errno, 2);
      return true;
    });
    await waitFor(() => !existsSync(join(o.stateDir, 'control.sock')));
  });

  it('attach: stdcopy frames out, stdin in, half-close closes stdin with stdin-once', async () => {
    const o = opts(['/bin/sh', '-c', 'cat; echo done >&2'], { openStdin: true, stdinOnce: true });
    const { client } = await startShim(o);
    const sock = await client.attach({ stdin: true, stdout: true, stderr: true });
    const output = collect(sock);
    const exit = client.subscribeExit();
    await client.start();
    sock.write('hello\n');
    sock.end();
    const buf = await output; // the shim closes attach connections after the exit
    assert.equal((await exit).exitCode, 0);
    const { frames, rest } = parseStdcopy(buf);
    assert.equal(rest.length, 0);
    const text = (s: number) => Buffer.concat(frames.filter((f) => f.stream === s).map((f) => f.data)).toString();
    assert.equal(text(1), 'hello\n');
    assert.equal(text(2), 'done\n');
    assert.equal(buf[0], 1);
    assert.deepEqual([...buf.subarray(1, 4)], [0, 0, 0]);
  });

  it('attach without stdin-once: half-close only stops reading; close-stdin ends it', async () => {
    const o = opts(['/bin/sh', '-c', 'cat; echo eof'], { openStdin: true });
    const { client } = await startShim(o);
    const sock = await client.attach({ stdin: true, stdout: true });
    const output = collect(sock);
    await client.start();
    sock.write('one\n');
    sock.end();
    await waitFor(() => readLog(o.logPath).some((l) => l.log === 'one\n'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await client.state()).status, 'running');
    const exit = client.subscribeExit();
    await client.closeStdin();
    assert.equal((await exit).exitCode, 0);
    const { frames } = parseStdcopy(await output);
    assert.equal(Buffer.concat(frames.map((f) => f.data)).toString(), 'one\neof\n');
  });

  it('tty: raw output, resize reaches the terminal (stty size), stdin through the pty', async () => {
    const o = opts(['/bin/sh', '-c', 'read x; stty size; echo "got $x"; echo to-stderr >&2'], {
      tty: true,
      openStdin: true,
    });
    const { client } = await startShim(o);
    const sock = await client.attach({ stdin: true, stdout: true, stderr: true });
    const output = collect(sock);
    const exit = client.subscribeExit();
    await client.start();
    await client.resize(50, 132);
    sock.write('go\n');
    assert.equal((await exit).exitCode, 0);
    const out = (await output).toString();
    assert.match(out, /50 132\r\n/);
    assert.match(out, /got go\r\n/);
    assert.match(out, /to-stderr\r\n/);
    const log = readLog(o.logPath);
    assert.ok(log.every((l) => l.stream === 'stdout'));
    assert.ok(log.some((l) => l.log === '50 132\r\n'), JSON.stringify(log));
    assert.ok(log.some((l) => l.log === 'to-stderr\r\n'));
  });

  it('survives its parent being killed -9; a new client gets state and the exit', async (t: TestContext) => {
    // One container still running when the executor dies, one that exits while it is down.
    const running = await spawnUnderThrowawayParent(opts(['/bin/sleep', '100']));
    const exiting = await spawnUnderThrowawayParent(opts(['/bin/sh', '-c', 'sleep 0.3; exit 7']));
    await running.client.start();
    await exiting.client.start();
    for (const p of [running.parent, exiting.parent]) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    }
    assert.ok(alive(running.ready.shimPid) && alive(exiting.ready.shimPid));
    const ppid = Number(/PPid:\s+(\d+)/.exec(readFileSync(`/proc/${running.ready.shimPid}/status`, 'utf8'))![1]);
    assert.notEqual(ppid, running.parent.pid);
    await new Promise((r) => setTimeout(r, 600)); // the second container exits meanwhile

    const c1 = new ShimClient(running.client.stateDir);
    assert.equal((await c1.state()).status, 'running');
    const exit1 = c1.subscribeExit();
    await c1.signal('KILL');
    const e1 = await exit1;
    assert.equal(e1.exitCode, 137);
    assert.equal(e1.signal, 9);

    const c2 = new ShimClient(exiting.client.stateDir);
    const st = await c2.state();
    assert.equal(st.status, 'exited');
    assert.equal(st.exitCode, 7);
    const e2 = await c2.subscribeExit(); // already exited: pushed at once
    assert.equal(e2.exitCode, 7);
    assert.equal(e2.exitedAt, st.exitedAt);

    // Once shut down, the recorded exit is still there for a restarted executor.
    await c2.shutdown();
    await waitFor(() => !alive(exiting.ready.shimPid));
    await assert.rejects(c2.state(), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    assert.equal(c2.readExitFile()?.exitCode, 7);
    t.diagnostic(`shim reparented to pid ${ppid}`);
  });

  it('holds output for a slower attach client (lossless), drops one that makes no progress for 2 s', async () => {
    const o = opts(['/bin/sh', '-c', 'yes 0123456789abcdef0123456789abcdef | head -n 100000; echo end']);
    const { client } = await startShim(o);
    const slow = await client.attach({ stdout: true }); // paused: never read
    const fast = await client.attach({ stdout: true });
    const fastOut = collect(fast);
    const exit = client.subscribeExit();
    await client.start();
    assert.equal((await exit).exitCode, 0);
    const { frames } = parseStdcopy(await fastOut);
    const got = Buffer.concat(frames.map((f) => f.data)).toString();
    assert.equal(got.length, 100000 * 33 + 4);
    assert.ok(got.endsWith('end\n'));
    const log = readLog(o.logPath);
    assert.equal(log.length, 100001);
    assert.match(readFileSync(join(o.stateDir, 'shim.log'), 'utf8'), /attach client \d+ made no progress for 2000 ms/);
    slow.destroy();
  });

  it('records oomKilled from the memory cgroup (--cgroup)', async (t: TestContext) => {
    const v1 = '/sys/fs/cgroup/memory';
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    if (!existsSync(`${v1}/memory.limit_in_bytes`) && !v2) return t.skip('no memory cgroup');
    const rel = `berth-shim-test-${process.pid}-${seq}`;
    const dir = v2 ? `/sys/fs/cgroup/${rel}` : `${v1}/${rel}`;
    mkdirSync(dir);
    try {
      writeFileSync(join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(16 << 20));
      if (v2) writeFileSync(join(dir, 'memory.swap.max'), '0');
      else if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(16 << 20));
      const script = `echo $$ > ${dir}/cgroup.procs; head -c 64M /dev/zero | tail -c 60M > /dev/null`;
      const o = opts(['/bin/sh', '-c', script], { cgroup: rel });
      const { client } = await startShim(o);
      const exit = client.subscribeExit();
      await client.start();
      const e = await exit;
      assert.equal(e.exitCode, 137);
      assert.equal(e.oomKilled, true);
      assert.equal((await client.state()).oomKilled, true);
    } finally {
      await waitFor(() => {
        try {
          rmdirSync(dir);
          return true;
        } catch {
          return false;
        }
      });
    }
  });

  it('stays within 1 MiB RSS (peak) while logging and serving fast and slow attach clients', async (t: TestContext) => {
    const script =
      'i=0; while [ $i -lt 3000 ]; do echo "line $i with some text to log"; echo e$i >&2; i=$((i+1)); done; ' +
      'head -c 400000 /dev/zero | tr "\\0" z; echo; echo done; sleep 100';
    const o = opts(['/bin/sh', '-c', script], { logMaxSize: 50_000, logMaxFile: 2, openStdin: true });
    const { client, ready } = await startShim(o);
    const fast = await client.attach({ stdin: true, stdout: true, stderr: true });
    const slow = await client.attach({ stdout: true, stderr: true }); // never read: buffered, then dropped
    let got = 0;
    fast.on('data', (c: Buffer) => (got += c.length));
    fast.resume();
    await client.start();
    await waitFor(() => readLog(o.logPath).some((l) => l.log === 'done\n'), 20_000);
    const status = readFileSync(`/proc/${ready.shimPid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)![1]);
    t.diagnostic(`berth-shim VmRSS ${kb('VmRSS')} kB, peak VmHWM ${kb('VmHWM')} kB (fast client got ${got} bytes)`);
    assert.ok(kb('VmHWM') <= 1024, `VmHWM ${kb('VmHWM')} kB > 1024 kB`);
    fast.destroy();
    slow.destroy();
    await client.signal('KILL');
  });
});

const berthInit = join(__dirname, '..', 'build', 'berth-init');
const initSkip = process.getuid?.() !== 0 ? 'needs root' : !existsSync(berthInit) ? `no ${berthInit}` : false;

describe('berth-shim with berth-init (root, busybox rootfs)', { skip: initSkip }, () => {
  const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_SETGID', 'CAP_SETUID', 'CAP_KILL'];
  let dir: TempDir;
  let lower: string;
  let n = 0;

  before(() => {
    dir = createTempDir('berth-shim-init-');
    lower = join(dir.path, 'lower');
    mkdirSync(join(lower, 'bin'), { recursive: true });
    mkdirSync(join(lower, 'etc'));
    copyFileSync('/bin/busybox', join(lower, 'bin', 'busybox'));
    execFileSync('chroot', [lower, '/bin/busybox', '--install', '-s', '/bin']);
    writeFileSync(join(lower, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(lower, 'etc', 'group'), 'root:x:0:\n');
  });

  afterEach(async () => {
    for (const pid of pids) kill(pid);
    await waitFor(() => [...pids].every((p) => !alive(p) || isZombieOfOther(p)), 5000);
    pids.clear();
  });

  after(() => dir.remove());

  function bundle(args: string[], extra: { terminal?: boolean; user?: object } = {}): ShimSpawnOptions {
    const id = `i${++n}`;
    const b = join(dir.path, id);
    for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(b, d), { recursive: true });
    const config = {
      process: {
        args, env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], cwd: '/', terminal: !!extra.terminal,
        user: extra.user ?? { uid: 0, gid: 0 },
        capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS, inheritable: [], ambient: [] },
        noNewPrivileges: true,
      },
      root: { path: join(b, 'rootfs'), readonly: false },
      rootfs: { lowerdirs: [lower], upperdir: join(b, 'upper'), workdir: join(b, 'work') },
      hostname: id,
      mounts: [],
      defaultMounts: true,
      linux: { namespaces: ['pid', 'mount', 'uts', 'ipc'].map((type) => ({ type })), seccomp: null },
    };
    writeFileSync(join(b, 'config.json'), JSON.stringify(config));
    return { id, bundle: b, stateDir: join(b, 'shim'), logPath: join(b, 'json.log'), initPath: berthInit, tty: extra.terminal };
  }

  it('runs the container as PID 1 with its output in the log and its exit recorded', async () => {
    const o = bundle(['sh', '-c', 'echo pid=$$; hostname; echo err >&2; exit 4']);
    const { client, ready } = await startShim(o);
    const st = await client.state();
    assert.equal(st.status, 'created');
    assert.equal(st.pid, ready.pid);
    const exit = client.subscribeExit();
    await client.start();
    const e = await exit;
    assert.equal(e.exitCode, 4);
    assert.equal(e.pid, ready.pid);
    const log = readLog(o.logPath);
    assert.deepEqual(log.filter((l) => l.stream === 'stdout').map((l) => l.log), ['pid=1\n', `${o.id}\n`]);
    assert.deepEqual(log.filter((l) => l.stream === 'stderr').map((l) => l.log), ['err\n']);
    await client.shutdown();
  });

  it('gives the pty slave as the controlling terminal; resize before start is seen', async () => {
    const o = bundle(['sh', '-c', 'stty size; [ -t 0 ] && echo is-a-tty'], { terminal: true });
    const { client } = await startShim(o);
    await client.resize(40, 100);
    const exit = client.subscribeExit();
    await client.start();
    assert.equal((await exit).exitCode, 0);
    const out = readLog(o.logPath).map((l) => l.log).join('');
    assert.equal(out, '40 100\r\nis-a-tty\r\n');
  });

  it('runs an exec in the container through --init-exec', async () => {
    const o = bundle(['sleep', '100']);
    const { client, ready } = await startShim(o);
    await client.start();
    const spec = join(o.bundle!, 'exec.json');
    writeFileSync(spec, JSON.stringify({
      process: {
        args: ['sh', '-c', 'echo pid=$$ host=$(hostname); exit 5'], env: ['PATH=/bin'], cwd: '/', terminal: false,
        user: { uid: 0, gid: 0 },
        capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS, inheritable: [], ambient: [] },
        noNewPrivileges: true,
      },
      seccomp: null, privileged: false,
    }));
    const x = { ...o, id: `${o.id}-exec`, stateDir: join(o.bundle!, 'exec-shim'), logPath: join(o.bundle!, 'exec.log'),
      initExec: { pid: ready.pid, specPath: spec } };
    const ex = await startShim(x);
    const exit = ex.client.subscribeExit();
    await ex.client.start();
    assert.equal((await exit).exitCode, 5);
    const [line] = readLog(x.logPath).map((l) => l.log);
    assert.match(line!, new RegExp(`^pid=\\d+ host=${o.id}\\n$`));
    assert.notEqual(line, 'pid=1\n');
    assert.equal((await client.state()).status, 'running');
    await client.signal('KILL');
  });

  it('relays exec and setup failures from berth-init', async () => {
    const bad = bundle(['nosuch']);
    const { client } = await startShim(bad);
    const exit = client.subscribeExit();
    await assert.rejects(client.start(), (err: ShimError) => {
      assert.equal(err.message, 'exec: "nosuch": executable file not found in $PATH');
      assert.equal(err.detail?.stage, 'exec');
      return true;
    });
    assert.equal((await exit).exitCode, 127);
    await assert.rejects(spawnShim(bundle(['true'], { user: { username: 'ghost' } })), (err: ShimError) => {
      assert.equal(err.code, 'create_failed');
      assert.equal(err.detail?.stage, 'user');
      return true;
    });
  });
});

/** A killed container whose shim is gone is reaped by init; count it as gone. */
function isZombieOfOther(pid: number) {
  try {
    return /State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}
