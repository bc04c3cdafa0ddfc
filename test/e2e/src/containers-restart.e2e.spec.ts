/**
 * Containers across Berth restarts, through the docker CLI:
 *   - `berth down && berth up`: containers keep running (the executor re-attaches to their shims),
 *     published ports keep answering, and an exit that happens while Berth is down is recorded on up;
 *   - a reboot as the containers see it (every shim and container process killed, nothing recorded):
 *     `always` and `unless-stopped` (not stopped by the user) come back, `on-failure:N` counts the
 *     lost run as a failure and stops at N, `no` stays exited.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { containerPaths } from '@berth/contracts';
import { parseReference, RegistryClient } from '@berth/oci';
import { buildImage, buildLayer, busyboxRootfsEntries, pushImage, startTestRegistry, type TestRegistry } from '@berth/oci/dist/testing';
import { randomSuffix } from '@berth/testing';
import { startBerth, type RunningBerth } from './harness';

let berth: RunningBerth;
let reg: TestRegistry;
let image: string;
const client = new RegistryClient();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET http://127.0.0.1:port/hostname, retried while httpd comes up (bounded). */
async function fetchHostname(port: number): Promise<string> {
  let last = '';
  for (let i = 0; i < 40; i++) {
    last = await new Promise<string>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/hostname', timeout: 2000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : `status ${res.statusCode}`));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => resolve(`error ${e.message}`));
      req.end();
    });
    if (!last.startsWith('error') && !last.startsWith('status')) return last;
    await sleep(250);
  }
  throw new Error(`http://127.0.0.1:${port}/hostname: ${last}`);
}

interface State {
  Status: string;
  Pid: number;
  ExitCode: number;
  StartedAt: string;
  FinishedAt: string;
}
const state = async (ref: string) => JSON.parse(await berth.docker(['inspect', '-f', '{{json .State}}', ref])) as State;
const restartCount = async (ref: string) => Number((await berth.docker(['inspect', '-f', '{{.RestartCount}}', ref])).trim());

/** Polls until `check` holds (bounded), returning the last inspect. */
async function until(ref: string, check: (s: State) => boolean, what: string, timeoutMs = 60_000): Promise<State> {
  const deadline = Date.now() + timeoutMs;
  let s = await state(ref);
  while (!check(s)) {
    if (Date.now() > deadline) throw new Error(`${ref}: ${what} not reached: ${JSON.stringify(s)}`);
    await sleep(250);
    s = await state(ref);
  }
  return s;
}

describe('containers across Berth restarts through the docker CLI', { timeout: 1_200_000 }, () => {
  before(async () => {
    reg = await startTestRegistry();
    const busybox = buildImage([await buildLayer(busyboxRootfsEntries())], {
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
    });
    image = `${reg.host}/busybox:1`;
    await pushImage(client.repository(parseReference(image), undefined, { push: true }), busybox, '1');
    berth = await startBerth();
    await berth.docker(['pull', image], { timeoutMs: 120_000 });
  }, { timeout: 300_000 });

  after(async () => {
    await berth?.stop();
    await reg?.stop();
    await client.close();
  }, { timeout: 300_000 });

  test('berth down && berth up: running containers keep running, ports keep answering, an exit while down is recorded', async () => {
    const port = await freePort();
    const web = (await berth.docker(['run', '-d', '--name', `web-${randomSuffix()}`, '-p', `${port}:80`, image, 'httpd', '-f', '-p', '80', '-h', '/etc'])).trim();
    // exits 3 on TERM, which the test sends from the host while Berth is down
    const quitter = (await berth.docker(['run', '-d', image, 'sh', '-c', 'trap "exit 3" TERM; while :; do sleep 0.2; done'])).trim();
    assert.equal(await fetchHostname(port), web.slice(0, 12));
    const before = await state(web);
    const quitterPid = (await state(quitter)).Pid;
    assert.ok(quitterPid > 0);

    await berth.down();
    process.kill(quitterPid, 'SIGTERM');
    // the shim records the exit (exit.json) with nobody listening
    const exitJson = join(containerPaths(String(berth.config['data-root']), String(berth.config['exec-root']), quitter).stateDir, 'exit.json');
    for (let i = 0; i < 100 && !existsSync(exitJson); i++) await sleep(100);
    assert.ok(existsSync(exitJson), 'the shim wrote exit.json while Berth was down');
    assert.equal(await fetchHostname(port), web.slice(0, 12), 'the published port answers while Berth is down');
    await berth.up();

    const after = await state(web);
    assert.equal(after.Status, 'running');
    assert.equal(after.StartedAt, before.StartedAt, 'the same run, not a restart');
    assert.equal(after.Pid, before.Pid);
    assert.equal(await restartCount(web), 0);
    assert.equal(await fetchHostname(port), web.slice(0, 12));
    const quit = await until(quitter, (s) => s.Status === 'exited', 'exited');
    assert.equal(quit.ExitCode, 3);
    // the executor is attached again: stop works and reports the exit
    await berth.docker(['stop', '-t', '1', web]);
    assert.equal((await state(web)).Status, 'exited');
    await berth.docker(['rm', '-f', web, quitter]);
  });

  test('after a reboot: always and unless-stopped come back, on-failure:N counts to N, no stays exited', async () => {
    const port = await freePort();
    const suffix = randomSuffix();
    const run = async (name: string, ...args: string[]) =>
      (await berth.docker(['run', '-d', '--name', `${name}-${suffix}`, ...args])).trim();
    const always = await run('always', '--restart', 'always', '-p', `${port}:80`, image, 'httpd', '-f', '-p', '80', '-h', '/etc');
    const unless = await run('unless', '--restart', 'unless-stopped', image, 'sleep', '300');
    const unlessStopped = await run('unless-stopped', '--restart', 'unless-stopped', image, 'sleep', '300');
    const onFailure = await run('on-failure', '--restart', 'on-failure:1', image, 'sleep', '300');
    const no = await run('no', image, 'sleep', '300');
    await berth.docker(['stop', '-t', '0', unlessStopped]);
    assert.equal(await fetchHostname(port), always.slice(0, 12));
    const startedBefore = new Map<string, string>();
    for (const id of [always, unless, onFailure]) startedBefore.set(id, (await state(id)).StartedAt);

    await berth.reboot();

    for (const id of [always, unless, onFailure]) {
      const s = await until(id, (x) => x.Status === 'running' && x.StartedAt !== startedBefore.get(id), 'running again');
      assert.ok(s.Pid > 0);
      assert.equal(await restartCount(id), 1, `${id.slice(0, 12)} restarted once`);
    }
    assert.equal(await fetchHostname(port), always.slice(0, 12), 'the published port answers again');
    const stoppedByUser = await state(unlessStopped);
    assert.equal(stoppedByUser.Status, 'exited', 'unless-stopped stopped by the user stays stopped');
    const noPolicy = await until(no, (s) => s.Status === 'exited', 'exited');
    assert.equal(noPolicy.ExitCode, 137, 'the lost run is recorded as killed');
    assert.equal(await restartCount(no), 0);

    // a second reboot: on-failure:1 has used its one restart
    for (const id of [always, unless]) startedBefore.set(id, (await state(id)).StartedAt);
    await berth.reboot();
    for (const id of [always, unless]) {
      await until(id, (s) => s.Status === 'running' && s.StartedAt !== startedBefore.get(id), 'running again');
    }
    const spent = await until(onFailure, (s) => s.Status === 'exited', 'exited');
    assert.equal(spent.ExitCode, 137);
    await sleep(1500);
    assert.equal((await state(onFailure)).Status, 'exited', 'no restart beyond the maximum');
    assert.equal(await restartCount(onFailure), 1);
    assert.equal(await restartCount(always), 2);
    assert.equal(await fetchHostname(port), always.slice(0, 12));

    await berth.docker(['rm', '-f', always, unless, unlessStopped, onFailure, no]);
    assert.deepEqual((await berth.docker(['ps', '-aq'])).trim(), '');
  });
});
