import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedTime, type LogQuery, LogReader, logFiles, readLog, timeNano } from './container-logs';

const ALL: LogQuery = { stdout: true, stderr: true, sinceNano: null, untilNano: null, timestamps: false, tail: -1, tty: false };

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The shim's layout: `{"log":…,"stream":…,"time":…}` with the text JSON-escaped. */
function entry(log: string, stream = 'stdout', time = '2026-01-02T03:04:05.123456789Z'): string {
  return `{"log":${JSON.stringify(log)},"stream":"${stream}","time":"${time}"}\n`;
}

/** What Docker sends, computed the slow way (JSON.parse per line). */
function expected(lines: readonly string[], q: LogQuery): Buffer {
  const out: Buffer[] = [];
  const parsed = lines.flatMap((l) => {
    try {
      const v = JSON.parse(l) as { log: string; stream: string; time: string };
      return typeof v.log === 'string' ? [v] : [];
    } catch {
      return [];
    }
  });
  const picked = q.tail >= 0 ? parsed.slice(Math.max(0, parsed.length - q.tail)) : parsed;
  for (const v of picked) {
    const t = timeNano(v.time);
    if (q.sinceNano !== null && t < q.sinceNano) continue;
    if (q.untilNano !== null && t > q.untilNano) break;
    if (v.stream === 'stdout' ? !q.stdout : !q.stderr) continue;
    const payload = Buffer.from(q.timestamps ? `${fixedTime(v.time)} ${v.log}` : v.log, 'utf8');
    if (!q.tty) {
      const h = Buffer.alloc(8);
      h[0] = v.stream === 'stdout' ? 1 : 2;
      h.writeUInt32BE(payload.length, 4);
      out.push(h);
    }
    out.push(payload);
  }
  return Buffer.concat(out);
}

const got = (path: string, q: LogQuery = ALL) => Buffer.concat(readLog(path, q).chunks);

test('plain lines: one stdcopy frame per line, byte for byte', (t) => {
  const path = join(tmp(t), 'container.log');
  writeFileSync(path, entry('hello\n') + entry('oops\n', 'stderr') + entry('no newline'));
  const want = Buffer.concat([
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 6]),
    Buffer.from('hello\n'),
    Buffer.from([2, 0, 0, 0, 0, 0, 0, 5]),
    Buffer.from('oops\n'),
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 10]),
    Buffer.from('no newline'),
  ]);
  assert.deepEqual(got(path), want);
  assert.equal(got(path, { ...ALL, tty: true }).toString(), 'hello\noops\nno newline');
  assert.equal(got(path, { ...ALL, stderr: false, tty: true }).toString(), 'hello\nno newline');
  assert.equal(got(path, { ...ALL, stdout: false, tty: true }).toString(), 'oops\n');
});

test('escapes and unicode: the same text JSON.parse gives', (t) => {
  const path = join(tmp(t), 'container.log');
  const raw = [
    // what the shim writes (moby's escaping)
    '{"log":"a\\\\b\\"c\\u0009\\u003c\\u0026\\u003e\\u0001\\u2028x\\n","stream":"stdout","time":"2026-11-23T20:25:52.108874807Z"}\n',
    '{"log":"\\ufffd\\ufffdbad\\n","stream":"stdout","time":"2026-11-23T20:25:52.108896269Z"}\n',
    '{"log":"\\r\\n","stream":"stderr","time":"2026-11-23T20:25:52.1Z"}\n',
    // other escapes JSON allows
    '{"log":"\\/\\b\\f\\t\\u00e9\\u00E9 \\ud83d\\ude00 \\n","stream":"stdout","time":"2026-11-23T20:25:52Z"}\n',
    // a lone surrogate: U+FFFD, as Buffer.from and Go's decoder
    '{"log":"x\\ud800y\\udc00z\\n","stream":"stdout","time":"2026-11-23T20:25:52.5Z"}\n',
    // raw UTF-8, long lines, a backslash right before the end
    entry('héllo wörld ✓ 😀\n'),
    entry(`${'x'.repeat(5000)}\n`),
    entry(`${'y'.repeat(300)}\\`),
    entry('"quoted" \\n literal\n'),
  ];
  writeFileSync(path, raw.join(''));
  const lines = raw.map((l) => l.slice(0, -1));
  for (const q of [ALL, { ...ALL, tty: true }, { ...ALL, timestamps: true }]) assert.deepEqual(got(path, q), expected(lines, q));
});

test('other layouts go through JSON.parse; torn and foreign lines are skipped', (t) => {
  const path = join(tmp(t), 'container.log');
  const raw = [
    '{"stream":"stdout","log":"reordered\\n","time":"2026-01-02T03:04:05Z"}',
    '{"log":"with attrs\\n","stream":"stderr","attrs":{"a":"b"},"time":"2026-01-02T03:04:05.5Z"}',
    '{"log":"torn',
    'not json at all',
    '',
    '{"log":"bad escape \\q","stream":"stdout","time":"2026-01-02T03:04:05Z"}',
    '{"log":"bad \\u12","stream":"stdout","time":"2026-01-02T03:04:05Z"}',
    '{"log":5,"stream":"stdout","time":"2026-01-02T03:04:05Z"}',
    '{"log":"after\\n","stream":"stdout","time":"2026-01-02T03:04:06Z"}',
  ];
  writeFileSync(path, `${raw.join('\n')}\n`);
  assert.equal(got(path, { ...ALL, tty: true }).toString(), 'reordered\nwith attrs\nafter\n');
  assert.deepEqual(got(path), expected(raw, ALL));
});

test('timestamps are RFC3339NanoFixed (9 digits), as Docker prints them', (t) => {
  const path = join(tmp(t), 'container.log');
  writeFileSync(
    path,
    entry('a\n', 'stdout', '2026-01-02T03:04:05.123456789Z') +
      entry('b\n', 'stdout', '2026-01-02T03:04:05.12Z') +
      entry('c\n', 'stdout', '2026-01-02T03:04:05Z') +
      entry('d\n', 'stdout', '2026-01-02T05:04:05.5+02:00'),
  );
  assert.equal(
    got(path, { ...ALL, tty: true, timestamps: true }).toString(),
    '2026-01-02T03:04:05.123456789Z a\n2026-01-02T03:04:05.120000000Z b\n2026-01-02T03:04:05.000000000Z c\n' +
      '2026-01-02T05:04:05.500000000+02:00 d\n',
  );
});

test('since is inclusive, the first line after until ends the read', (t) => {
  const path = join(tmp(t), 'container.log');
  const times = ['2026-01-02T03:04:05.1Z', '2026-01-02T03:04:05.2Z', '2026-01-02T03:04:06Z', '2026-01-02T03:04:05.3Z', '2026-01-02T03:04:07Z'];
  writeFileSync(path, times.map((tm, i) => entry(`${i}\n`, 'stdout', tm)).join(''));
  const text = (q: Partial<LogQuery>) => got(path, { ...ALL, tty: true, ...q }).toString().split('\n').filter(Boolean).join(',');
  const ns = (s: string) => timeNano(s);
  assert.equal(text({ sinceNano: ns('2026-01-02T03:04:05.2Z') }), '1,2,3,4');
  assert.equal(text({ sinceNano: ns('2026-01-02T03:04:05.200000001Z') }), '2,3,4');
  assert.equal(text({ untilNano: ns('2026-01-02T03:04:05.2Z') }), '0,1');
  // moby stops at the first line after until, even if a later one is earlier
  assert.equal(text({ untilNano: ns('2026-01-02T03:04:05.5Z') }), '0,1');
  assert.equal(text({ sinceNano: 0n }), '0,1,2,3,4');
  assert.equal(text({ untilNano: 1_000_000_000n }), '');
  const raw = times.map((tm, i) => entry(`${i}\n`, 'stdout', tm).slice(0, -1));
  for (const q of [
    { ...ALL, sinceNano: ns('2026-01-02T03:04:05.15Z') },
    { ...ALL, sinceNano: ns('2026-01-02T03:04:05.15Z'), untilNano: ns('2026-01-02T03:04:06Z'), timestamps: true },
  ]) {
    assert.deepEqual(got(path, q), expected(raw, q));
  }
});

test('tail counts the last lines of every stream, across rotated files, before since and the stream selection', (t) => {
  const dir = tmp(t);
  const path = join(dir, 'container.log');
  writeFileSync(`${path}.2`, entry('1\n') + entry('2\n', 'stderr'));
  writeFileSync(`${path}.1`, entry('3\n') + entry('4\n', 'stderr') + entry('5\n'));
  writeFileSync(path, `${entry('6\n')}${entry('7\n', 'stderr')}{"log":"partial`);
  writeFileSync(join(dir, 'container.log.bak'), entry('x\n'));
  writeFileSync(join(dir, 'other.log.1'), entry('x\n'));
  assert.deepEqual(logFiles(path), [`${path}.2`, `${path}.1`, path]);
  const text = (q: Partial<LogQuery>) => got(path, { ...ALL, tty: true, ...q }).toString().split('\n').filter(Boolean).join(',');
  assert.equal(text({}), '1,2,3,4,5,6,7');
  assert.equal(text({ tail: 0 }), '');
  assert.equal(text({ tail: 1 }), '7');
  assert.equal(text({ tail: 2 }), '6,7');
  assert.equal(text({ tail: 3 }), '5,6,7');
  assert.equal(text({ tail: 5 }), '3,4,5,6,7');
  assert.equal(text({ tail: 6 }), '2,3,4,5,6,7');
  assert.equal(text({ tail: 100 }), '1,2,3,4,5,6,7');
  // Docker: the last 2 lines are 6 (stdout) and 7 (stderr); of those, stdout only
  assert.equal(text({ tail: 2, stderr: false }), '6');
  assert.equal(text({ tail: 1, stderr: false }), '');
  assert.equal(got(join(dir, 'missing.log')).length, 0);
});

test('many lines across read blocks, and lines longer than a block', (t) => {
  const path = join(tmp(t), 'container.log');
  const lines: string[] = [];
  for (let i = 0; i < 60_000; i++) {
    const text = i % 1000 === 7 ? `${'é"\\\t'.repeat(i % 97)}${i}\n` : `${'z'.repeat(i % 50)}${i}\n`;
    lines.push(entry(text, i % 3 ? 'stdout' : 'stderr', `2026-01-02T03:04:${String(5 + (i % 50)).padStart(2, '0')}.${i % 10 ? '5' : '123456789'}Z`).slice(0, -1));
  }
  // a 3 MiB line in another layout (longer than a read block), then the shim's again
  lines.push(`{"stream":"stdout","log":"${'w'.repeat(3 * 1024 * 1024)}\\n","time":"2026-01-02T03:05:00Z"}`);
  lines.push(entry('end\n').slice(0, -1));
  writeFileSync(path, `${lines.join('\n')}\n`);
  for (const q of [ALL, { ...ALL, timestamps: true, stderr: false }, { ...ALL, tail: 20_000, stdout: false }]) {
    assert.ok(got(path, q).equals(expected(lines, q)));
  }
  // in small steps (blocks of a few lines)
  const r = new LogReader(path, ALL);
  const parts: Buffer[] = [];
  for (let c = r.next(100); c.length; c = r.next(3000)) parts.push(...c);
  r.close();
  assert.ok(Buffer.concat(parts).equals(expected(lines, ALL)));
});

test('a follower sees appended lines once complete, and every line across a rotation', (t) => {
  const path = join(tmp(t), 'container.log');
  writeFileSync(path, entry('1\n'));
  const q = { ...ALL, tty: true };
  const reader = new LogReader(path, q);
  assert.equal(Buffer.concat(reader.next()).toString(), '1\n');
  assert.equal(reader.next().length, 0);
  const f = reader.follow();
  reader.close();
  t.after(() => f.close());
  const read = () => Buffer.concat(f.read()).toString();
  assert.equal(read(), '');
  const two = entry('2\n');
  appendFileSync(path, two.slice(0, 10));
  assert.equal(read(), '');
  appendFileSync(path, two.slice(10));
  assert.equal(read(), '2\n');
  // rotated with a line in the old file not yet read; then a new file
  appendFileSync(path, entry('3\n'));
  renameSync(path, `${path}.1`);
  assert.equal(read(), '3\n');
  writeFileSync(path, entry('4\n'));
  appendFileSync(`${path}.1`, ''); // nothing more in the old one
  assert.equal(read(), '4\n');
  // a rotation with the last lines not yet read
  appendFileSync(path, entry('5\n'));
  renameSync(`${path}.1`, `${path}.2`);
  renameSync(path, `${path}.1`);
  writeFileSync(path, entry('6\n'));
  assert.equal(read(), '5\n6\n');
  // three rotations between two reads: the old file (still open here), then the ones rotated after it
  appendFileSync(path, entry('7\n'));
  const rotate = (next: string) => {
    rmSync(`${path}.3`, { force: true });
    for (const i of [2, 1]) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    renameSync(path, `${path}.1`);
    writeFileSync(path, next);
  };
  rotate(entry('8\n'));
  rotate(entry('9\n'));
  rotate(entry('10\n'));
  assert.equal(read(), '7\n8\n9\n10\n');
  // and when the one being read was rotated out of existence, every rotated file left
  rotate(entry('11\n'));
  rotate(entry('12\n'));
  rotate(entry('13\n'));
  rotate(entry('14\n'));
  assert.equal(read(), '11\n12\n13\n14\n');
  appendFileSync(path, entry('15\n'));
  assert.equal(read(), '15\n');
});

test('files pinned as they appear are read in order even once rotation has removed them', (t) => {
  const path = join(tmp(t), 'container.log');
  writeFileSync(path, entry('0\n'));
  const reader = new LogReader(path, { ...ALL, tty: true });
  const f = reader.follow();
  assert.equal(Buffer.concat(reader.next()).toString(), '0\n');
  reader.close();
  t.after(() => f.close());
  // max-file 3: each rotation removes the previous .2; the follower only pins (its watcher's work) meanwhile
  const lines: string[] = [];
  for (let i = 1; i <= 25; i++) {
    appendFileSync(path, entry(`${i}a\n`) + entry(`${i}b\n`));
    lines.push(`${i}a`, `${i}b`);
    if (i > 1) renameSync(`${path}.1`, `${path}.2`);
    renameSync(path, `${path}.1`);
    writeFileSync(path, '');
    if (i % 3) f.pin(); // and sometimes two rotations come before the watcher runs
  }
  appendFileSync(path, entry('end\n'));
  lines.push('end');
  assert.equal(Buffer.concat(f.read()).toString(), `${lines.join('\n')}\n`);
  appendFileSync(path, entry('more\n'));
  assert.equal(Buffer.concat(f.read()).toString(), 'more\n');
});

test('a follower stops at the first line after until', (t) => {
  const path = join(tmp(t), 'container.log');
  writeFileSync(path, entry('1\n', 'stdout', '2026-01-02T03:04:05Z'));
  const reader = new LogReader(path, { ...ALL, tty: true, untilNano: timeNano('2026-01-02T03:04:06Z') });
  assert.equal(Buffer.concat(reader.next()).toString(), '1\n');
  const f = reader.follow();
  reader.close();
  t.after(() => f.close());
  appendFileSync(path, entry('2\n', 'stdout', '2026-01-02T03:04:06Z') + entry('3\n', 'stdout', '2026-01-02T03:04:07Z') + entry('4\n'));
  assert.equal(Buffer.concat(f.read()).toString(), '2\n');
  assert.equal(f.stopped, true);
});
