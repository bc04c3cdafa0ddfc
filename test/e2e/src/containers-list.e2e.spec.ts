/**
 * `GET /containers/json` is served from the gateway's cache, which follows the generations the
 * containers and network services push (libs/messaging generations.ts). These tests warm that cache
 * before every change and then list at once: a list taken after a reply must never be older than it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import Redis from 'ioredis';
import { type RunningBerth } from './harness';
import { withBerthAndBusybox } from './busybox';

let berth: RunningBerth;
let image: string;

interface Summary {
  Id: string;
  State: string;
  Status: string;
  Ports: { PrivatePort: number; PublicPort?: number; Type: string }[];
}

function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: berth.socket, method, path, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: (text ? JSON.parse(text) : undefined) as T }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const list = async (all = true): Promise<Summary[]> => {
  const r = await api<Summary[]>('GET', `/v1.41/containers/json${all ? '?all=1' : ''}`);
  assert.equal(r.status, 200);
  return r.body;
};
const find = async (id: string, all = true) => (await list(all)).find((s) => s.Id === id);

describe('container list cache: never older than a reply', { timeout: 600_000 }, () => {
  withBerthAndBusybox((f) => ({ berth, image } = f));

  test('a cached answer is the same bytes as the ordinary route; bad input still gets dockerd\'s errors', async () => {
    const raw = (path: string) =>
      new Promise<{ status: number; head: string[]; body: string }>((resolve, reject) => {
        request({ socketPath: berth.socket, path }, (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => (body += d));
          res.on('end', () => {
            const head: string[] = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i] !== 'Date') head.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
            resolve({ status: res.statusCode ?? 0, head, body });
          });
        })
          .on('error', reject)
          .end();
      });
    const id = (await berth.docker(['create', '--network', 'none', image, 'true'])).trim();
    try {
      for (const path of ['/v1.41/containers/json?all=1', '/containers/json?all=true&limit=5', `/v1.50/containers/json?all=1&filters=${encodeURIComponent('{"id":["' + id + '"]}')}`]) {
        const first = await raw(path);
        const second = await raw(path);
        assert.equal(first.status, 200);
        assert.deepEqual(second, first, path);
        assert.deepEqual(second.head.slice(0, 6), [
          'Api-Version: 1.50',
          'Ostype: linux',
          'Docker-Experimental: false',
          second.head[3]!,
          'Content-Type: application/json; charset=utf-8',
          `Content-Length: ${Buffer.byteLength(second.body)}`,
        ]);
        assert.match(second.head[3]!, /^Server: /);
      }
      const filtered = JSON.parse((await raw(`/containers/json?all=1&filters=${encodeURIComponent('{"id":["' + id + '"]}')}`)).body) as Summary[];
      assert.deepEqual(filtered.map((s) => s.Id), [id]);
      const sized = JSON.parse((await raw('/containers/json?all=1&size=1')).body) as { SizeRw?: number }[];
      assert.ok(sized.every((s) => typeof s.SizeRw === 'number'));
      assert.equal((await raw('/containers/json?limit=abc')).status, 400);
      assert.equal((await raw('/containers/json?filters=nope')).status, 400);
      assert.equal((await raw('/v1.12/containers/json')).status, 400);
      assert.equal((await raw('/v9.99/containers/json')).status, 400);
    } finally {
      await berth.docker(['rm', id]);
    }
  });

  test('create, start, kill, wait, remove: a list right after each reply shows it (warm cache every time)', async () => {
    for (let i = 0; i < 30; i++) {
      await list();
      const created = await api<{ Id: string }>('POST', '/v1.41/containers/create', { Image: image, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'none' } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.Id;
      assert.equal((await find(id))?.State, 'created', `round ${i}: created`);
      assert.equal(await find(id, false), undefined);
      assert.equal((await api('POST', `/v1.41/containers/${id}/start`)).status, 204);
      assert.equal((await find(id, false))?.State, 'running', `round ${i}: started`);
      assert.equal((await api('POST', `/v1.41/containers/${id}/kill`)).status, 204);
      assert.equal((await api<{ StatusCode: number }>('POST', `/v1.41/containers/${id}/wait`)).body.StatusCode, 137);
      const exited = await find(id);
      assert.equal(exited?.State, 'exited', `round ${i}: waited`);
      assert.match(exited.Status, /^Exited \(137\)/);
      assert.equal((await api('DELETE', `/v1.41/containers/${id}`)).status, 204);
      assert.equal(await find(id), undefined, `round ${i}: removed`);
    }
  });

  test('docker run -d, then an immediate list shows it; docker rm -f, then it is gone', async () => {
    for (let i = 0; i < 15; i++) {
      await list();
      const id = (await berth.docker(['run', '-d', '--network', 'none', image, 'sleep', '300'])).trim();
      assert.equal((await find(id, false))?.State, 'running', `round ${i}`);
      await berth.docker(['rm', '-f', id]);
      assert.equal(await find(id), undefined, `round ${i}: removed`);
    }
  });

  test('a container exiting on its own shows up as exited without any request about it', async () => {
    const id = (await berth.docker(['run', '-d', '--network', 'none', image, 'sh', '-c', 'sleep 1; exit 3'])).trim();
    assert.equal((await find(id))?.State, 'running');
    const deadline = Date.now() + 15_000;
    let s = await find(id);
    while (s?.State !== 'exited' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      s = await find(id);
    }
    assert.equal(s?.State, 'exited');
    assert.match(s.Status, /^Exited \(3\) /);
    await berth.docker(['rm', id]);
  });

  test('published ports (the network service) are in the list right after run -d', async () => {
    await list();
    const id = (await berth.docker(['run', '-d', '-p', '127.0.0.1::80', image, 'sleep', '300'])).trim();
    try {
      const s = await find(id, false);
      assert.equal(s?.State, 'running');
      const tcp = s.Ports.find((p) => p.PrivatePort === 80 && p.Type === 'tcp' && p.PublicPort !== undefined);
      assert.ok(tcp, JSON.stringify(s.Ports));
    } finally {
      await berth.docker(['rm', '-f', id]);
    }
  });

  test('after the gateway reconnects to Redis, lists fall back to asking until pushes arrive, and stay current', async () => {
    const redis = new Redis(String(berth.config.redis));
    try {
      const prefix = `name=berth-rpc-replies-gateway-${String(berth.config['node-id'])}-`;
      const replyConnection = async () => String(await redis.client('LIST')).split('\n').find((l) => l.includes(prefix));
      const line = await replyConnection();
      assert.ok(line, 'the gateway reply connection is listed');
      const id = /(?:^|\s)id=(\d+)/.exec(line)![1]!;
      await list();
      await redis.client('KILL', 'ID', id);
      // Replies published during the gap itself are lost (the caller times out): wait for the new
      // connection, resubscribed to its reply channel and the generations channel.
      for (let l = await replyConnection(); !l || l.includes(`id=${id} `) || !l.includes(' sub=2 '); l = await replyConnection()) {
        await new Promise((r) => setTimeout(r, 5));
      }
      for (let i = 0; i < 10; i++) {
        const id = (await berth.docker(['run', '-d', '--network', 'none', image, 'sleep', '300'])).trim();
        assert.equal((await find(id, false))?.State, 'running', `round ${i}`);
        await berth.docker(['rm', '-f', id]);
        assert.equal(await find(id), undefined, `round ${i}: removed`);
      }
    } finally {
      redis.disconnect();
    }
  });
});
