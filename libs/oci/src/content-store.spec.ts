import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ContentStore, DigestMismatchError } from './content-store';

const dir = mkdtempSync(join(tmpdir(), 'berth-cs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dg = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('put, has, size, read, open, delete', async () => {
  const s = new ContentStore(dir);
  const b = Buffer.from('hello');
  const d = await s.put(b);
  assert.equal(d, dg(b));
  assert.ok(await s.has(d));
  assert.equal(await s.size(d), 5);
  assert.deepEqual(await s.read(d), b);
  const chunks: Buffer[] = [];
  for await (const c of s.open(d)) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), b);
  assert.ok(existsSync(join(dir, 'blobs', 'sha256', d.slice(7))));
  assert.equal(await s.delete(d), true);
  assert.equal(await s.has(d), false);
  assert.equal(await s.delete(d), false);
  await assert.rejects(s.put(b, 'sha256:' + '0'.repeat(64)), DigestMismatchError);
});

test('write verifies digest and size; mismatch leaves nothing', async () => {
  const s = new ContentStore(dir);
  const b = Buffer.alloc(100_000, 7);
  const d = dg(b);
  await assert.rejects(s.write({ digest: d, size: b.length }, Readable.from([b.subarray(0, 10), Buffer.from('x')])), DigestMismatchError);
  assert.equal(await s.has(d), false);
  assert.equal(await s.partialSize(d), 0);
  await assert.rejects(s.write({ digest: d, size: 10 }, Readable.from([b])), DigestMismatchError);
  assert.equal(await s.partialSize(d), 0);
  assert.deepEqual(await s.write({ digest: d, size: b.length }, Readable.from([b])), { digest: d, size: b.length });
  assert.deepEqual(await s.read(d), b);
});

test('a failing source keeps the partial; resume appends and verifies the whole', async () => {
  const s = new ContentStore(dir);
  const b = Buffer.alloc(50_000, 3);
  const d = dg(b);
  async function* broken() {
    yield b.subarray(0, 20_000);
    throw new Error('connection reset');
  }
  await assert.rejects(s.write({ digest: d, size: b.length }, broken()), /connection reset/);
  assert.equal(await s.has(d), false);
  assert.equal(await s.partialSize(d), 20_000);
  await s.write({ digest: d, size: b.length }, Readable.from([b.subarray(20_000)]), { resume: true });
  assert.deepEqual(await s.read(d), b);
  assert.equal(await s.partialSize(d), 0);
});

test('concurrent writes of one digest are serialized', async () => {
  const s = new ContentStore(dir);
  const b = Buffer.alloc(10_000, 9);
  const d = dg(b);
  const r = await Promise.all([1, 2, 3].map(() => s.write({ digest: d, size: b.length }, Readable.from([b]))));
  for (const x of r) assert.equal(x.size, b.length);
  assert.deepEqual(await s.read(d), b);
});
