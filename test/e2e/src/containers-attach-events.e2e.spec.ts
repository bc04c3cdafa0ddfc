/**
 * Attach with log replay (`logs=1`, stdout/stderr selection, stdcopy framing), `docker attach` and
 * `start -a`; Docker events for containers whose attributes (name, image, labels) survive
 * `berth down && berth up`, and their container/image/label filters; malformed create bodies through
 * the raw API (400, nothing created).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { randomSuffix } from '@berth/testing';
import { type RunningBerth } from './harness';
import { withBerthAndBusybox } from './busybox';

let berth: RunningBerth;
let image: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (s: string) => s.split('\n').filter(Boolean);
const name = (p: string) => `${p}-${randomSuffix()}`;
const nowS = () => (Date.now() / 1000).toFixed(3);

function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: berth.socket, method, path, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

/** A hijacked attach: the raw bytes after the response head, until the server closes or `forMs` passes. */
function rawAttach(path: string, forMs = 10_000): Promise<{ head: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = connect(berth.socket);
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      resolve({ head: all.subarray(0, end).toString(), body: all.subarray(end + 4) });
      s.destroy();
    };
    const timer = setTimeout(finish, forMs);
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', finish);
    s.on('error', reject);
    s.write(`POST ${path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n`);
  });
}

/** stdcopy frames -> [stream, text] */
function frames(buf: Buffer): [number, string][] {
  const out: [number, string][] = [];
  for (let i = 0; i + 8 <= buf.length; ) {
    const size = buf.readUInt32BE(i + 4);
    out.push([buf[i]!, buf.subarray(i + 8, i + 8 + size).toString()]);
    i += 8 + size;
  }
  return out;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('attach replay, durable container events, malformed create', { timeout: 900_000 }, () => {
  withBerthAndBusybox((f) => ({ berth, image } = f));

  test('malformed create bodies are 400s with Go json wording; nothing is created; the gateway still answers', async () => {
    const since = nowS();
    const cases: [unknown, RegExp][] = [
      [{ Image: image, Cmd: 5 }, /^json: cannot unmarshal number into Go struct field (\w+\.)*Config\.Cmd of type \[\]string$/],
      [{ Image: image, HostConfig: { Memory: 'lots' } }, /^json: cannot unmarshal string into Go struct field (\w+\.)*HostConfig\.Memory of type int64$/],
      [{ HostConfig: { Memory: 'lots' } }, /^json: cannot unmarshal string into Go struct field (\w+\.)*HostConfig\.Memory of type int64$/],
      [{ Image: image, Env: 'A=1' }, /^json: cannot unmarshal string into Go struct field (\w+\.)*Config\.Env of type \[\]string$/],
      ['{"Image": ', /^(unexpected EOF|invalid JSON.*|.*JSON.*)$/i],
    ];
    for (const [body, wording] of cases) {
      const r = await api('POST', '/v1.50/containers/create', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.body}`);
      const msg = (JSON.parse(r.body) as { message: string }).message;
      assert.match(msg, wording, JSON.stringify(body));
    }
    assert.equal((await berth.docker(['ps', '-aq'])).trim(), '');
    const events = await berth.docker(['events', '--since', since, '--until', nowS(), '--filter', 'type=container']);
    assert.equal(events.trim(), '');
    assert.equal((await api('GET', '/_ping')).body, 'OK');
  });

  test('attach?logs=1 replays the json-file log (stream selection, stdcopy) before live output; docker attach; start -a', async () => {
    const c = name('replay');
    const id = (await berth.docker(['run', '-d', '--name', c, image, 'sh', '-c', 'echo out1; echo err1 >&2; sleep 2; echo out2; sleep 300'])).trim();
    await until('first lines logged', async () => (await berth.dockerResult(['logs', c])).stderr.includes('err1'));

    const both = await rawAttach(`/v1.50/containers/${id}/attach?logs=1&stream=0&stdout=1&stderr=1`);
    assert.match(both.head, /^HTTP\/1.1 101/);
    // dockerd's identity headers on the taken-over answer too
    assert.match(both.head, /\r\nApi-Version: 1\.\d+\r\n/);
    assert.match(both.head, /\r\nServer: Berth\/[^\r]+ \(linux\)/);
    // and on an error answered before the take-over
    const missing = await rawAttach('/v1.50/containers/no-such-container/attach?stream=1&stdout=1');
    assert.match(missing.head, /^HTTP\/1.1 404 Not Found\r\n/);
    assert.match(missing.head, /\r\nApi-Version: 1\.\d+\r\n/);
    assert.deepEqual(frames(both.body), [[1, 'out1\n'], [2, 'err1\n']]);
    const outOnly = await rawAttach(`/v1.50/containers/${id}/attach?logs=1&stream=0&stdout=1`);
    assert.deepEqual(frames(outOnly.body), [[1, 'out1\n']]);
    const errOnly = await rawAttach(`/v1.50/containers/${c}/attach?logs=1&stream=0&stderr=1`);
    assert.deepEqual(frames(errOnly.body), [[2, 'err1\n']]);
    // logs, then live output on the same connection
    const live = await rawAttach(`/v1.50/containers/${id}/attach?logs=1&stream=1&stdout=1&stderr=1`, 4_000);
    assert.deepEqual(frames(live.body).slice(0, 3), [[1, 'out1\n'], [2, 'err1\n'], [1, 'out2\n']]);
    await berth.docker(['rm', '-f', c]);

    // docker attach (no replay) to a running container gets what comes next and its exit code
    const a = name('attach');
    await berth.docker(['run', '-d', '--name', a, image, 'sh', '-c', 'echo before; sleep 3; echo after; exit 4']);
    const attached = await berth.dockerResult(['attach', a], { timeoutMs: 60_000 });
    assert.equal(attached.stdout, 'after\n');
    assert.equal(attached.code, 4);

    // start -a twice: only the new run's output (no replay)
    const s = name('starta');
    await berth.docker(['create', '--name', s, image, 'sh', '-c', 'echo hi']);
    assert.equal((await berth.docker(['start', '-a', s], { timeoutMs: 60_000 })), 'hi\n');
    assert.equal((await berth.docker(['start', '-a', s], { timeoutMs: 60_000 })), 'hi\n');
    await berth.docker(['rm', a, s]);
  });

  test('container events keep name/image/labels across berth down/up; container, image and label filters', async () => {
    const since = nowS();
    const c = name('ev');
    const id = (await berth.docker(['create', '--name', c, '-l', 'team=berth', image, 'true'])).trim();
    await berth.docker(['start', '-a', c], { timeoutMs: 60_000 });
    const other = name('other');
    await berth.docker(['create', '--name', other, image, 'true']);
    await sleep(1500);
    const until1 = nowS();
    const query = (...filters: string[]) => berth.docker(['events', '--since', since, '--until', until1, ...filters.flatMap((f) => ['--filter', f])]);
    const strip = (out: string) => lines(out).map((l) => l.replace(/^\S+ /, ''));

    const before = strip(await query('container=' + c));
    const create = `container create ${id} (image=${image}, name=${c}, team=berth)`;
    assert.equal(before[0], create);
    assert.ok(before.some((l) => l === `container start ${id} (image=${image}, name=${c}, team=berth)`), before.join('\n'));
    assert.ok(before.some((l) => l.startsWith(`container die ${id} (exitCode=0, image=${image}, name=${c}, team=berth)`)), before.join('\n'));
    assert.deepEqual(strip(await query('label=team=berth', 'type=container')), before);
    assert.ok(strip(await query('image=' + image, 'event=create')).some((l) => l.includes(`name=${other}`)));
    assert.equal(strip(await query('container=' + c, 'label=team=other')).length, 0);

    await berth.restart();
    assert.deepEqual(strip(await query('container=' + c)), before);

    // events recorded after the restart still carry the attributes
    const since2 = nowS();
    await berth.docker(['start', '-a', c], { timeoutMs: 60_000 });
    await berth.docker(['rename', c, `${c}-2`]);
    await berth.docker(['rm', `${c}-2`, other]);
    await sleep(1500);
    const after = strip(await berth.docker(['events', '--since', since2, '--until', nowS(), '--filter', `label=team=berth`]));
    assert.ok(after.includes(`container start ${id} (image=${image}, name=${c}, team=berth)`), after.join('\n'));
    assert.ok(after.includes(`container rename ${id} (image=${image}, name=${c}-2, oldName=/${c}, team=berth)`), after.join('\n'));
    assert.ok(after.includes(`container destroy ${id} (image=${image}, name=${c}-2, team=berth)`), after.join('\n'));
  });
});
