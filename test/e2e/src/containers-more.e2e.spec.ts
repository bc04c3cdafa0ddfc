/**
 * More containers end to end through the real docker CLI: logs (follow at exit, tail, timestamps,
 * since/until), attach and detach keys under a pty, stdin, start -a, prune, pause, rename, resources
 * in the container's cgroup files, stats, top, OOM kills, exit codes, healthchecks, and /events.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { randomSuffix } from '@berth/testing';
import { RedisRpcClient } from '@berth/messaging';
import { ContainerPatterns, type WaitContainerReply } from '@berth/contracts';
import { dockerCommand, run, type RunningBerth } from './harness';
import { withBerthAndBusybox } from './busybox';

let berth: RunningBerth;
let image: string;
let t0: number;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (s: string) => s.split('\n').filter(Boolean);
const name = (p: string) => `${p}-${randomSuffix()}`;
const inspect = async (fmt: string, ref: string) => (await berth.docker(['inspect', '-f', fmt, ref])).trim();

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** a docker command under a pty (`script`), with bytes typed in at given delays */
function underPty(args: string[], typed: { afterMs: number; bytes: string }[], timeoutMs = 30_000) {
  const cmd = [dockerCommand, '-H', `unix://${berth.socket}`, ...args].join(' ');
  return new Promise<{ code: number; out: string }>((resolve) => {
    const child = spawn('script', ['-qec', cmd, '/dev/null'], {
      env: { ...berth.env, DOCKER_CONFIG: `${berth.dir}/docker-config`, DOCKER_CLI_HINTS: 'false' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    let t = 0;
    for (const step of typed) {
      t += step.afterMs;
      setTimeout(() => child.stdin.write(step.bytes), t).unref();
    }
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code: code ?? -1, out });
    });
  });
}

function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: berth.socket, method, path, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

describe('more containers through the docker CLI', { timeout: 900_000 }, () => {
  withBerthAndBusybox((f) => {
    ({ berth, image } = f);
    t0 = Math.floor(Date.now() / 1000) - 1;
  });

  test('logs -f gets every line of a container that exits, and returns; --tail -t; --since/--until', async () => {
    const c = name('logs');
    await berth.docker(['run', '-d', '--name', c, image, 'sh', '-c', 'sleep 1; i=1; while [ $i -le 2000 ]; do echo $i; i=$((i+1)); done']);
    const followed = await berth.dockerResult(['logs', '-f', c], { timeoutMs: 60_000 });
    assert.equal(followed.code, 0, followed.stderr);
    const got = lines(followed.stdout);
    assert.equal(got.length, 2000);
    assert.deepEqual(got.slice(0, 2).concat(got.slice(-2)), ['1', '2', '1999', '2000']);
    const tail = lines(await berth.docker(['logs', '--tail', '2', '-t', c]));
    assert.equal(tail.length, 2);
    assert.match(tail[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z 1999$/);
    assert.match(tail[1]!, / 2000$/);
    assert.equal(lines(await berth.docker(['logs', '--since', '0', c])).length, 2000);
    assert.equal(lines(await berth.docker(['logs', '--until', '1', c])).length, 0);
    const future = String(Math.floor(Date.now() / 1000) + 3600);
    assert.equal(lines(await berth.docker(['logs', '--since', future, c])).length, 0);
    // stdout/stderr both kept, in order
    const c2 = name('logs2');
    await berth.docker(['run', '--name', c2, image, 'sh', '-c', 'echo out; echo err >&2']);
    const both = await berth.dockerResult(['logs', c2]);
    assert.equal(both.stdout, 'out\n');
    assert.equal(both.stderr, 'err\n');
    await berth.docker(['rm', c, c2]);
  });

  test('run -i with piped stdin, start -a, exit codes 0/3/137, wait on an exited container, run --rm, rm -f', async () => {
    const piped = await berth.dockerResult(['run', '-i', '--rm', image, 'cat'], { input: 'hello\n' });
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout, 'hello\n');
    assert.equal((await berth.dockerResult(['run', '--rm', image, 'true'])).code, 0);
    assert.equal((await berth.dockerResult(['run', '--rm', image, 'sh', '-c', 'exit 3'])).code, 3);

    const k = name('k137');
    const running = berth.dockerResult(['run', '--name', k, image, 'sleep', '300'], { timeoutMs: 60_000 });
    await until('running', async () => (await inspect('{{.State.Running}}', k)) === 'true');
    await berth.docker(['kill', k]);
    const killed = await running;
    assert.equal(killed.code, 137, killed.stderr);
    assert.equal((await berth.docker(['wait', k])).trim(), '137');

    const s = name('starta');
    await berth.docker(['create', '--name', s, image, 'sh', '-c', 'echo from-start; exit 2']);
    const started = await berth.dockerResult(['start', '-a', s], { timeoutMs: 60_000 });
    assert.equal(started.stdout, 'from-start\n');
    assert.equal(started.code, 2);
    assert.equal((await berth.docker(['wait', s])).trim(), '2');

    const r = name('rm');
    await berth.docker(['run', '--rm', '--name', r, image, 'true']);
    assert.equal((await berth.dockerResult(['inspect', r])).code, 1);

    const f = (await berth.docker(['run', '-d', image, 'sleep', '300'])).trim();
    await berth.docker(['rm', '-f', f]);
    assert.equal((await berth.dockerResult(['inspect', f])).code, 1);
    await berth.docker(['rm', k, s]);
  });

  test("run's attach answers before the shim is up: no output is lost; a failed start reads as dockerd's", async () => {
    // The gateway answers docker run's attach at once and holds the start until the attach is connected:
    // a container that writes at once and exits must still be heard in full, every time.
    for (let i = 0; i < 5; i++) {
      const r = await berth.dockerResult(['run', '--rm', '--network', 'none', image, 'sh', '-c', 'seq 1 2000; seq 1 3 >&2']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(lines(r.stdout).length, 2000);
      assert.equal(r.stdout.slice(0, 2), '1\n');
      assert.equal(r.stderr, '1\n2\n3\n');
    }
    // docker start -a of a created container takes the other early path (the attach RPC says the shim is pending).
    const s = name('early');
    await berth.docker(['create', '--name', s, image, 'seq', '1', '500']);
    const started = await berth.dockerResult(['start', '-a', s], { timeoutMs: 60_000 });
    assert.equal(lines(started.stdout).length, 500);
    await berth.docker(['rm', s]);
    // As dockerd: the start's error once (not prefixed twice), and no "Error waiting for container" from the wait.
    const failed = await berth.dockerResult(['run', '--rm', image, 'no-such-command']);
    assert.equal(failed.code, 127);
    assert.match(failed.stderr, /exec: "no-such-command": executable file not found in \$PATH/);
    assert.equal(failed.stderr.split('failed to create task for container').length, 2, failed.stderr);
    assert.doesNotMatch(failed.stderr, /Error waiting for container/);
  });

  test('attach under a pty: output, input, detach with ctrl-p ctrl-q leaves it running', async () => {
    const c = name('attach');
    await berth.docker(['run', '-dit', '--name', c, image, 'sh']);
    const r = await underPty(['attach', c], [
      { afterMs: 1500, bytes: 'echo hi-$((40+2))\r' },
      { afterMs: 1000, bytes: '\x10\x11' },
    ]);
    assert.match(r.out, /hi-42/);
    assert.match(r.out, /read escape sequence/);
    assert.equal(await inspect('{{.State.Running}}', c), 'true');
    // detach keys given by flag
    const r2 = await underPty(['attach', '--detach-keys', 'ctrl-x', c], [{ afterMs: 1500, bytes: '\x18' }]);
    assert.match(r2.out, /read escape sequence/);
    assert.equal(await inspect('{{.State.Running}}', c), 'true');
    await berth.docker(['rm', '-f', c]);
  });

  test("a wait whose client left ends at the service (run -d's, logs -f's): cancelled by id, even before it arrives", async () => {
    const c = name('waitcancel');
    await berth.docker(['run', '-d', '--name', c, '--network', 'none', image, 'sleep', '300']);
    const id = await inspect('{{.Id}}', c);
    // `docker run -d` and an interrupted `logs -f` leave their waits behind: the gateway cancels them.
    const logs = spawn(dockerCommand, ['-H', `unix://${berth.socket}`, 'logs', '-f', c], { env: berth.env, stdio: 'ignore' });
    await sleep(500);
    logs.kill('SIGINT');
    const client = new RedisRpcClient({ redisUrl: String(berth.config.redis), namespace: String(berth.config.namespace), defaultTimeoutMs: 30_000 });
    try {
      const ask = (waitId: string) =>
        client.request<WaitContainerReply>(ContainerPatterns.wait, { id, condition: 'next-exit', waitId }, { timeoutMs: 60_000 });
      // A running container's next exit: the long poll stays until cancelled, then answers `pending`.
      let answered = false;
      const waiting = ask('e2e-wait-1').then((r) => ((answered = true), r));
      await sleep(500);
      assert.equal(answered, false, 'a wait for the next exit of a running container answered at once');
      await client.request(ContainerPatterns.waitCancel, { waitIds: ['e2e-wait-1'] });
      assert.deepEqual(await waiting, { statusCode: -1, error: null, pending: true });
      // A cancel that overtakes its wait ends the wait as it arrives.
      await client.request(ContainerPatterns.waitCancel, { waitIds: ['e2e-wait-2'] });
      assert.deepEqual(await ask('e2e-wait-2'), { statusCode: -1, error: null, pending: true });
      // Malformed cancels change nothing and fail nothing.
      await client.request(ContainerPatterns.waitCancel, { waitIds: 'x' });
      await client.request(ContainerPatterns.waitCancel, {});
      // The CLI's own wait still works: it answers at the exit.
      const wait = berth.docker(['wait', c]);
      await sleep(300);
      await berth.docker(['kill', c]);
      assert.equal((await wait).trim(), '137');
    } finally {
      await client.close();
      await berth.docker(['rm', '-f', c]);
    }
  });

  test('container prune removes stopped and created containers only', async () => {
    const keep = (await berth.docker(['run', '-d', image, 'sleep', '300'])).trim();
    const created = (await berth.docker(['create', image, 'true'])).trim();
    const exited = (await berth.docker(['run', '-d', image, 'true'])).trim();
    await berth.docker(['wait', exited]);
    const out = await berth.docker(['container', 'prune', '-f']);
    assert.match(out, new RegExp(created));
    assert.match(out, new RegExp(exited));
    assert.doesNotMatch(out, new RegExp(keep));
    assert.deepEqual(lines(await berth.docker(['ps', '-aq', '--no-trunc'])), [keep]);
    await berth.docker(['rm', '-f', keep]);
  });

  test('pause freezes the processes, unpause resumes; rename', async () => {
    const c = name('pause');
    await berth.docker(['run', '-d', '--name', c, image, 'sh', '-c', 'while true; do echo tick; sleep 0.1; done']);
    await until('ticks', async () => lines(await berth.docker(['logs', c])).length > 3);
    await berth.docker(['pause', c]);
    assert.match(await berth.docker(['ps', '--filter', `name=${c}`, '--format', '{{.Status}}']), /\(Paused\)/);
    assert.equal(await inspect('{{.State.Status}} {{.State.Paused}}', c), 'paused true');
    const a = lines(await berth.docker(['logs', c])).length;
    await sleep(1000);
    assert.equal(lines(await berth.docker(['logs', c])).length, a, 'no output while paused');
    const paused = await berth.dockerResult(['pause', c]);
    assert.notEqual(paused.code, 0);
    await berth.docker(['unpause', c]);
    await until('ticks again', async () => lines(await berth.docker(['logs', c])).length > a + 3);
    const n = name('renamed');
    await berth.docker(['rename', c, n]);
    assert.equal(await inspect('{{.Name}}', n), `/${n}`);
    assert.equal((await berth.dockerResult(['inspect', c])).code, 1);
    await berth.docker(['rm', '-f', n]);
  });

  test('run --memory --cpus and update --memory show in the cgroup files inside; stats; top', async () => {
    const c = name('res');
    await berth.docker(['run', '-d', '--name', c, '--memory', '500m', '--cpus', '1.0', image, 'sleep', '300']);
    const cat = async (f: string) => (await berth.docker(['exec', c, 'cat', `/sys/fs/cgroup/${f}`])).trim();
    assert.equal(await cat('memory/memory.limit_in_bytes'), String(500 * 1024 * 1024));
    assert.equal(await cat('cpu/cpu.cfs_quota_us'), '100000');
    assert.equal(await cat('cpu/cpu.cfs_period_us'), '100000');
    await berth.docker(['update', '--memory', '300m', c]);
    assert.equal(await cat('memory/memory.limit_in_bytes'), String(300 * 1024 * 1024));
    assert.equal(await inspect('{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}', c), `${300 * 1024 * 1024} 1000000000`);

    const stats = await berth.docker(['stats', '--no-stream', '--format', '{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}', c], { timeoutMs: 30_000 });
    const [cpu, mem, pids] = stats.trim().split('|');
    assert.match(cpu!, /^\d+\.\d\d%$/);
    assert.match(mem!, /^[\d.]+[KMG]?i?B \/ 300MiB$/);
    assert.equal(pids, '1');
    const json = JSON.parse(await berth.docker(['stats', '--no-stream', '--format', '{{json .}}', c])) as Record<string, string>;
    assert.equal(json.Name, c);

    const top = lines(await berth.docker(['top', c]));
    assert.match(top[0]!, /UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD/);
    assert.match(top[1]!, /sleep 300$/);
    const topo = lines(await berth.docker(['top', c, '-o', 'pid,comm']));
    assert.match(topo[0]!, /^PID\s+COMMAND$/);
    assert.match(topo[1]!, /^\d+\s+sleep$/);
    await berth.docker(['rm', '-f', c]);
  });

  test('an OOM-killed container: exit 137, OOMKilled true, an oom event', async () => {
    const c = name('oom');
    const since = Math.floor(Date.now() / 1000) - 1;
    const r = await berth.dockerResult(['run', '--name', c, '--memory', '20m', image, 'sh', '-c', 'x=a; while true; do x=$x$x$x$x; done'], {
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 137, r.stderr);
    assert.equal(await inspect('{{.State.ExitCode}} {{.State.OOMKilled}}', c), '137 true');
    const events = await until('oom event', async () => {
      const out = await berth.docker(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000)), '--filter', `container=${c}`, '--format', '{{.Action}}']);
      return lines(out).includes('oom') && lines(out).includes('die') ? lines(out) : null;
    });
    assert.ok(events.indexOf('oom') < events.indexOf('die'), events.join(','));
    await berth.docker(['rm', c]);
  });

  test('healthchecks: unhealthy after retries, healthy, starting; ps Status and the health filter; inspect Log', async () => {
    const bad = name('sick');
    const good = name('well');
    const slow = name('slow');
    await berth.docker(['run', '-d', '--name', bad, '--health-cmd', 'echo nope; false', '--health-interval', '1s', '--health-retries', '2', image, 'sleep', '300']);
    await berth.docker(['run', '-d', '--name', good, '--health-cmd', 'echo fine', '--health-interval', '1s', image, 'sleep', '300']);
    await berth.docker(['run', '-d', '--name', slow, '--health-cmd', 'true', '--health-interval', '60s', image, 'sleep', '300']);
    assert.match(await berth.docker(['ps', '--filter', `name=${slow}`, '--format', '{{.Status}}']), /\(health: starting\)/);
    assert.equal(await inspect('{{.State.Health.Status}}', slow), 'starting');

    await until('unhealthy', async () => (await inspect('{{.State.Health.Status}}', bad)) === 'unhealthy');
    await until('healthy', async () => (await inspect('{{.State.Health.Status}}', good)) === 'healthy');
    assert.match(await berth.docker(['ps', '--filter', `name=${bad}`, '--format', '{{.Status}}']), /^Up .* \(unhealthy\)/);
    assert.match(await berth.docker(['ps', '--filter', `name=${good}`, '--format', '{{.Status}}']), /^Up .* \(healthy\)/);
    assert.deepEqual(lines(await berth.docker(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])), [bad]);
    assert.deepEqual(lines(await berth.docker(['ps', '--filter', 'health=healthy', '--format', '{{.Names}}'])), [good]);
    assert.deepEqual(lines(await berth.docker(['ps', '--filter', 'health=starting', '--format', '{{.Names}}'])), [slow]);

    const h = JSON.parse(await berth.docker(['inspect', '-f', '{{json .State.Health}}', bad])) as {
      Status: string;
      FailingStreak: number;
      Log: { Start: string; End: string; ExitCode: number; Output: string }[];
    };
    assert.ok(h.FailingStreak >= 2, JSON.stringify(h));
    assert.ok(h.Log.length >= 2 && h.Log.length <= 5);
    assert.equal(h.Log.at(-1)!.ExitCode, 1);
    assert.equal(h.Log.at(-1)!.Output, 'nope\n');
    assert.ok(Date.parse(h.Log.at(-1)!.End) >= Date.parse(h.Log.at(-1)!.Start));
    await until('5 log entries at most', async () => {
      const n = Number(await inspect('{{len .State.Health.Log}}', bad));
      return n === 5 ? n : null;
    });
    // health execs are not listed among the container's exec sessions
    assert.equal(await inspect('{{len .ExecIDs}}', good), '0');

    // a check that outlives its timeout is killed and counts as a failure
    const hang = name('hang');
    await berth.docker(['run', '-d', '--name', hang, '--health-cmd', 'sleep 30', '--health-interval', '1s', '--health-timeout', '1s', '--health-retries', '1', image, 'sleep', '300']);
    await until('timed-out unhealthy', async () => (await inspect('{{.State.Health.Status}}', hang)) === 'unhealthy', 60_000);
    const hh = JSON.parse(await berth.docker(['inspect', '-f', '{{json .State.Health}}', hang])) as { Log: { ExitCode: number; Output: string }[] };
    assert.equal(hh.Log[0]!.ExitCode, -1);
    assert.match(hh.Log[0]!.Output, /Health check exceeded timeout \(1s\)/);
    const procs = await berth.docker(['top', hang]);
    assert.ok(lines(procs).filter((l) => /sleep 30$/.test(l)).length <= 1, procs);

    // health stops with the container; the status is kept
    await berth.docker(['stop', '-t', '0', good]);
    const before = await inspect('{{len .State.Health.Log}}', good);
    await sleep(2500);
    assert.equal(await inspect('{{len .State.Health.Log}}', good), before);
    await berth.docker(['rm', '-f', bad, good, slow, hang]);
  });

  test('/events has the life cycle in Docker vocabulary; health-check execs are marked', async () => {
    const c = name('ev');
    await berth.docker(['run', '-d', '--name', c, '--health-cmd', 'true', '--health-interval', '1s', image, 'sleep', '300']);
    await until('healthy', async () => (await inspect('{{.State.Health.Status}}', c)) === 'healthy');
    await berth.docker(['exec', c, 'true']);
    await berth.docker(['pause', c]);
    await berth.docker(['unpause', c]);
    await berth.docker(['update', '--cpu-shares', '512', c]);
    const n = name('ev2');
    await berth.docker(['rename', c, n]);
    await berth.docker(['restart', '-t', '0', n]);
    await berth.docker(['kill', n]);
    await berth.docker(['start', n]);
    await berth.docker(['rm', '-f', n]);
    const a = name('eva');
    await berth.docker(['run', '--name', a, image, 'true']);
    await berth.docker(['rm', a]);
    const want = [
      'create', 'start', 'attach', 'die', 'kill', 'stop', 'pause', 'unpause', 'restart', 'oom', 'destroy', 'rename', 'update',
      'exec_create', 'exec_start', 'exec_die', 'health_status: healthy',
    ];
    const seen = await until(
      'every event',
      async () => {
        const out = await berth.docker(['events', '--since', String(t0), '--until', String(Math.floor(Date.now() / 1000) + 1), '--format', '{{json .}}']);
        const evs = lines(out).map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { Attributes: Record<string, string> } });
        const actions = new Set(evs.filter((e) => e.Type === 'container').map((e) => e.Action.replace(/^(exec_create|exec_start): .*/, '$1')));
        return want.every((w) => actions.has(w)) ? evs : null;
      },
      30_000,
    );
    const die = seen.find((e) => e.Action === 'die' && e.Actor.Attributes.name === a)!;
    assert.equal(die.Actor.Attributes.exitCode, '0');
    const hc = seen.filter((e) => e.Action.startsWith('exec_') && e.Actor.Attributes.execType === 'healthcheck');
    assert.ok(hc.length >= 3, 'health-check execs carry execType=healthcheck');
    const only = lines(
      await berth.docker(['events', '--since', String(t0), '--until', String(Math.floor(Date.now() / 1000)), '--filter', 'label=execType=healthcheck', '--format', '{{.Action}}']),
    );
    assert.ok(only.length >= 3 && only.every((x) => /^exec_(create|start|die)/.test(x)), only.join(','));
    const user = seen.filter((e) => e.Action === 'exec_create: true' && !e.Actor.Attributes.execType);
    assert.ok(user.length >= 1, 'a user exec is not marked');
    // rm -f of a running container: kill, die, destroy
    const mine = seen.filter((e) => e.Actor.Attributes.name === n).map((e) => e.Action);
    assert.deepEqual(mine.slice(-3), ['kill', 'die', 'destroy']);
    // health_status events mark changes only
    const hs = seen.filter((e) => e.Action.startsWith('health_status') && (e.Actor.Attributes.name === c || e.Actor.Attributes.name === n));
    assert.ok(hs.length <= 3, hs.map((e) => e.Action).join(','));
  });

  test('bad input: 400 with a clear message and nothing created', async () => {
    const before = lines(await berth.docker(['ps', '-aq']));
    const r = await berth.dockerResult(['run', '-d', '--health-cmd', 'true', '--health-interval', '-1s', image, 'true']);
    assert.notEqual(r.code, 0);
    const cpus = await berth.dockerResult(['run', '-d', '--cpus', '-1', image, 'true']);
    assert.notEqual(cpus.code, 0);
    // the server's own checks (the CLI refuses negative durations before sending)
    for (const [hc, message] of [
      [{ Test: ['CMD', 'true'], Interval: 5 }, 'Interval in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Timeout: -1 }, 'Timeout in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Retries: -1 }, 'Retries in Healthcheck cannot be negative'],
    ] as const) {
      const res = await api('POST', '/containers/create', { Image: image, Cmd: ['true'], Healthcheck: hc });
      assert.equal(res.status, 400, res.body);
      assert.equal(JSON.parse(res.body).message, message);
    }
    assert.deepEqual(lines(await berth.docker(['ps', '-aq'])), before);
    void run;
  });
});
