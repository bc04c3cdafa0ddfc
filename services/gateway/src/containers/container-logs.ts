import { closeSync, type FSWatcher, fstatSync, openSync, readSync, readdirSync, statSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';

/**
 * Reads a container's json-file log (Docker's format, written by its shim):
 * `{"log":"…","stream":"stdout|stderr","time":"RFC3339Nano"}\n`, rotated as `container.log.N…1`,
 * and encodes what `GET /containers/{id}/logs` sends: one stdcopy frame per line (the raw bytes with a
 * TTY), each prefixed with the RFC3339NanoFixed time when `timestamps` is set.
 *
 * Semantics are moby's (daemon/logs.go, loggerutils/logfile.go): `tail` counts the last lines of the files
 * whatever their stream or time; of those, lines before `since` are skipped, the first line after `until`
 * ends the read, and then the stream selection applies.
 *
 * The work is done on bytes: files are read in large blocks, the shim's exact layout is taken apart by
 * hand (unescaping only where the text has escapes), frames are written straight into large output
 * buffers. Anything not in that layout goes through JSON.parse; a line that does not parse is skipped.
 */
export interface LogQuery {
  readonly stdout: boolean;
  readonly stderr: boolean;
  /** nanoseconds since the epoch, inclusive bounds (null: none) */
  readonly sinceNano: bigint | null;
  readonly untilNano: bigint | null;
  readonly timestamps: boolean;
  /** -1 (or any negative): all */
  readonly tail: number;
  readonly tty: boolean;
}

/** RFC3339Nano -> ns since epoch (keeps the nanoseconds Date drops). */
export function timeNano(time: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return BigInt(Date.parse(time) || 0) * 1_000_000n;
  const base = BigInt(Date.parse(`${m[1]}${m[3]}`)) * 1_000_000n;
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return base + BigInt(frac || '0');
}

/** Go's RFC3339NanoFixed of an RFC3339Nano time (the fraction padded to 9 digits), as Docker prints it. */
export function fixedTime(time: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return time;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}${m[3]}`;
}

/** The log's files, oldest first: `path.N` … `path.1`, `path`. */
export function logFiles(path: string): string[] {
  const base = basename(path);
  const rotated: number[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return [];
  }
  let live = false;
  for (const name of names) {
    if (name === base) live = true;
    else if (name.startsWith(`${base}.`)) {
      const n = name.slice(base.length + 1);
      if (/^[1-9]\d{0,5}$/.test(n)) rotated.push(Number(n));
    }
  }
  rotated.sort((a, b) => b - a);
  const files = rotated.map((n) => `${path}.${n}`);
  if (live) files.push(path);
  return files;
}

const NL = 10;
const QUOTE = 0x22;
const BSLASH = 0x5c;
/** `{"log":"` */
const HEAD = Buffer.from('{"log":"');
/** between the text's closing quote and the stream's last 3 letters */
const MID = Buffer.from('","stream":"std');
/** after the stream */
const TIME = Buffer.from('","time":"');

/** Encoded output is cut into chunks of about this size. */
const OUT_BYTES = 512 * 1024;
/** Files are read in blocks of this size (a longer line gets a larger block). */
const READ_BYTES = 1024 * 1024;

let scratch: Buffer | undefined;
function block(size: number): Buffer {
  if (size > READ_BYTES) return Buffer.allocUnsafe(size);
  scratch ??= Buffer.allocUnsafe(READ_BYTES);
  return scratch;
}

function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n <= 0) break;
    got += n;
  }
  return got;
}

/** The hex digit's value, or -1. */
function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

function hex4(b: Buffer, at: number): number {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const h = hexVal(b[at + k]!);
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

/**
 * Turns complete json-file lines into frames. Lines are fed in file order; `stopped` is set by the first
 * line after `until` (nothing after it is wanted).
 */
export class LogEncoder {
  stopped = false;
  private out: Buffer = Buffer.allocUnsafe(0);
  private outSize = 16 * 1024;
  private o = 0;
  private chunks: Buffer[] = [];
  private readonly header: number;
  private readonly sinceS: number;
  private readonly sinceNs: number;
  private readonly untilS: number;
  private readonly untilNs: number;
  private readonly timed: boolean;

  constructor(private readonly q: LogQuery) {
    this.header = q.tty ? 0 : 8;
    this.timed = q.sinceNano !== null || q.untilNano !== null;
    const split = (n: bigint | null, dflt: number): [number, number] =>
      n === null ? [dflt, 0] : [Number(n / 1_000_000_000n), Number(n % 1_000_000_000n)];
    [this.sinceS, this.sinceNs] = split(this.q.sinceNano, -Infinity);
    [this.untilS, this.untilNs] = split(this.q.untilNano, Infinity);
  }

  /** The frames encoded so far (and forgets them). */
  take(): Buffer[] {
    if (this.o > 0) {
      this.chunks.push(this.out.subarray(0, this.o));
      this.out = this.out.subarray(this.o);
      this.o = 0;
    }
    const c = this.chunks;
    this.chunks = [];
    return c;
  }

  private room(n: number): void {
    if (this.out.length - this.o >= n) return;
    if (this.o > 0) this.chunks.push(this.out.subarray(0, this.o));
    // Output buffers grow from 16 KiB as they fill (a quiet follower keeps a small one).
    this.out = Buffer.allocUnsafe(Math.max(this.outSize, n));
    this.outSize = Math.min(this.outSize * 2, OUT_BYTES);
    this.o = 0;
  }

  /** Feeds the complete lines of b[start, end) (end just after a newline, or the data's end). */
  feed(b: Buffer, start: number, end: number): void {
    let p = start;
    while (p < end && !this.stopped) {
      const next = this.line(b, p, end);
      if (next > 0) {
        p = next;
        continue;
      }
      // not the shim's layout: the line as JSON
      let nl = b.indexOf(NL, p);
      if (nl < 0 || nl >= end) nl = end;
      if (nl > p) this.generic(b.toString('utf8', p, nl));
      p = nl + 1;
    }
  }

  /** One line in the shim's layout at p; returns the next line's start, or 0 when the layout differs. */
  private line(b: Buffer, p: number, end: number): number {
    const h = HEAD;
    if (p + 8 > end) return 0;
    for (let k = 0; k < 8; k++) if (b[p + k] !== h[k]) return 0;
    const t0 = p + 8;
    // The text: [t0, te), plain unless `esc` (then unescaped); `nl` when it is plain but ends in `\n`.
    let j = t0;
    let c = 0;
    while (j < end) {
      c = b[j]!;
      if (c === QUOTE || c === BSLASH || c === NL) break;
      j++;
    }
    if (j >= end || c === NL) return 0;
    let te = j;
    let qi = j;
    let esc = false;
    let nl = false;
    if (c === BSLASH) {
      if (b[j + 1] === 0x6e && b[j + 2] === QUOTE) {
        nl = true;
        qi = j + 2;
      } else {
        esc = true;
        while (j < end) {
          c = b[j]!;
          if (c === QUOTE) break;
          if (c === NL) return 0;
          if (c === BSLASH) {
            if (b[j + 1] === NL) return 0;
            j += 2;
          } else j++;
        }
        if (j >= end) return 0;
        te = qi = j;
      }
    }
    // ","stream":"std(out|err)","time":"…"}\n
    let m = qi;
    if (m + 15 + 3 + 10 + 3 > end) return 0;
    for (let k = 0; k < 15; k++) if (b[m + k] !== MID[k]) return 0;
    m += 15;
    let stderr: boolean;
    if (b[m] === 0x6f && b[m + 1] === 0x75 && b[m + 2] === 0x74) stderr = false;
    else if (b[m] === 0x65 && b[m + 1] === 0x72 && b[m + 2] === 0x72) stderr = true;
    else return 0;
    m += 3;
    for (let k = 0; k < 10; k++) if (b[m + k] !== TIME[k]) return 0;
    const ts = m + 10;
    let tq = ts + 30; // the shim's usual 2006-01-02T15:04:05.999999999Z
    if (tq >= end || b[tq] !== QUOTE || b[tq - 1] !== 0x5a || b[ts + 4] !== 0x2d) {
      tq = ts;
      while (tq < end && tq < ts + 64 && b[tq] !== QUOTE && b[tq] !== BSLASH) tq++;
    }
    if (tq + 1 >= end || b[tq] !== QUOTE || b[tq + 1] !== 0x7d) return 0;
    const after = tq + 2;
    if (after < end && b[after] !== NL) return 0;
    const next = after + 1;

    if (this.timed && !this.inTime(b, ts, tq)) return next;
    if (stderr ? !this.q.stderr : !this.q.stdout) return next;

    // the frame
    const tsLen = this.q.timestamps ? tq - ts + 40 : 0;
    const rawLen = te - t0;
    this.room(this.header + tsLen + rawLen + 1);
    const out = this.out;
    const f = this.o;
    let o = f + this.header;
    if (this.q.timestamps) o = this.stamp(b, ts, tq, o);
    if (esc) {
      const w = this.unescape(b, t0, te, o);
      if (w < 0) return 0;
      o = w;
    } else {
      if (rawLen > 48) {
        b.copy(out, o, t0, te);
        o += rawLen;
      } else for (let k = t0; k < te; k++) out[o++] = b[k]!;
      if (nl) out[o++] = NL;
    }
    if (this.header) {
      const size = o - f - 8;
      out[f] = stderr ? 2 : 1;
      out[f + 1] = 0;
      out[f + 2] = 0;
      out[f + 3] = 0;
      out[f + 4] = size >>> 24;
      out[f + 5] = (size >>> 16) & 255;
      out[f + 6] = (size >>> 8) & 255;
      out[f + 7] = size & 255;
    }
    this.o = o;
    return next;
  }

  /** Writes the fixed-width time and a space at o; returns the end. */
  private stamp(b: Buffer, ts: number, tq: number, o: number): number {
    const out = this.out;
    // The shim's usual form, 2006-01-02T15:04:05.999999999Z with all 9 digits, is copied as is.
    if (tq - ts === 30 && b[ts + 19] === 0x2e && b[tq - 1] === 0x5a) {
      b.copy(out, o, ts, tq);
      o += 30;
    } else {
      o += out.write(fixedTime(b.toString('latin1', ts, tq)), o, 'latin1');
    }
    out[o++] = 0x20;
    return o;
  }

  /** since <= t, and t <= until (else `stopped`). */
  private inTime(b: Buffer, ts: number, tq: number): boolean {
    let s: number;
    let ns: number;
    const d = (k: number) => b[ts + k]! - 0x30;
    if (tq - ts >= 20 && b[tq - 1] === 0x5a && b[ts + 4] === 0x2d && b[ts + 10] === 0x54 && (tq - ts === 20 || b[ts + 19] === 0x2e)) {
      s =
        Date.UTC(
          d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3),
          d(5) * 10 + d(6) - 1,
          d(8) * 10 + d(9),
          d(11) * 10 + d(12),
          d(14) * 10 + d(15),
          d(17) * 10 + d(18),
        ) / 1000;
      ns = 0;
      let scale = 100_000_000;
      for (let k = ts + 20; k < tq - 1 && scale >= 1; k++, scale /= 10) ns += (b[k]! - 0x30) * scale;
    } else {
      const t = timeNano(b.toString('latin1', ts, tq));
      s = Number(t / 1_000_000_000n);
      ns = Number(t % 1_000_000_000n);
    }
    if (Number.isNaN(s)) return true;
    if (s < this.sinceS || (s === this.sinceS && ns < this.sinceNs)) return false;
    if (s > this.untilS || (s === this.untilS && ns > this.untilNs)) {
      this.stopped = true;
      return false;
    }
    return true;
  }

  /** JSON-unescapes b[from, to) into the output at o (never longer than its source); -1 if invalid. */
  private unescape(b: Buffer, from: number, to: number, o: number): number {
    const out = this.out;
    let j = from;
    while (j < to) {
      const c = b[j]!;
      if (c !== BSLASH) {
        out[o++] = c;
        j++;
        continue;
      }
      const e = b[j + 1];
      j += 2;
      switch (e) {
        case 0x22:
        case 0x5c:
        case 0x2f:
          out[o++] = e;
          continue;
        case 0x62:
          out[o++] = 8;
          continue;
        case 0x66:
          out[o++] = 12;
          continue;
        case 0x6e:
          out[o++] = 10;
          continue;
        case 0x72:
          out[o++] = 13;
          continue;
        case 0x74:
          out[o++] = 9;
          continue;
        case 0x75:
          break;
        default:
          return -1;
      }
      if (j + 4 > to) return -1;
      let cp = hex4(b, j);
      if (cp < 0) return -1;
      j += 4;
      if (cp >= 0xd800 && cp <= 0xdfff) {
        // a pair makes one code point; a lone surrogate is U+FFFD (as Go's decoder and Buffer.write)
        const lo = cp <= 0xdbff && j + 6 <= to && b[j] === BSLASH && b[j + 1] === 0x75 ? hex4(b, j + 2) : -1;
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          j += 6;
        } else cp = 0xfffd;
      }
      if (cp < 0x80) out[o++] = cp;
      else if (cp < 0x800) {
        out[o++] = 0xc0 | (cp >> 6);
        out[o++] = 0x80 | (cp & 63);
      } else if (cp < 0x10000) {
        out[o++] = 0xe0 | (cp >> 12);
        out[o++] = 0x80 | ((cp >> 6) & 63);
        out[o++] = 0x80 | (cp & 63);
      } else {
        out[o++] = 0xf0 | (cp >> 18);
        out[o++] = 0x80 | ((cp >> 12) & 63);
        out[o++] = 0x80 | ((cp >> 6) & 63);
        out[o++] = 0x80 | (cp & 63);
      }
    }
    return o;
  }

  /** A line in another layout (key order, extra keys): JSON.parse; skipped when it is not a log entry. */
  private generic(s: string): void {
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      return; // a torn or foreign line
    }
    if (typeof v !== 'object' || v === null) return;
    const { log, stream, time } = v as { log?: unknown; stream?: unknown; time?: unknown };
    if (typeof log !== 'string') return;
    const t = typeof time === 'string' ? time : '';
    if (this.timed && t) {
      const n = timeNano(t);
      if (this.q.sinceNano !== null && n < this.q.sinceNano) return;
      if (this.q.untilNano !== null && n > this.q.untilNano) {
        this.stopped = true;
        return;
      }
    }
    const stderr = stream !== 'stdout';
    if (stderr ? !this.q.stderr : !this.q.stdout) return;
    const text = this.q.timestamps ? `${fixedTime(t)} ${log}` : log;
    const size = Buffer.byteLength(text, 'utf8');
    this.room(this.header + size);
    const f = this.o;
    if (this.header) {
      this.out[f] = stderr ? 2 : 1;
      this.out[f + 1] = 0;
      this.out[f + 2] = 0;
      this.out[f + 3] = 0;
      this.out.writeUInt32BE(size, f + 4);
    }
    this.o = f + this.header + this.out.write(text, f + this.header, size, 'utf8');
  }
}

/**
 * Feeds the complete lines of fd's [from, to) to enc, reading at most about `budget` bytes (at least one
 * line); returns how many bytes were consumed (up to a newline; 0: no complete line there).
 */
function feedRange(fd: number, from: number, to: number, enc: LogEncoder, budget: number): number {
  let pos = from;
  while (pos < to && pos - from < budget && !enc.stopped) {
    let want = Math.min(to - pos, READ_BYTES, Math.max(budget - (pos - from), 16 * 1024));
    let buf = block(want);
    let got = readFully(fd, buf, want, pos);
    let end = buf.lastIndexOf(NL, got - 1) + 1;
    // A line longer than the block: a larger one, until it holds the line's end (or the range ends).
    while (end === 0 && got === want && pos + got < to) {
      want = Math.min(to - pos, want * 2);
      buf = block(want);
      got = readFully(fd, buf, want, pos);
      end = buf.lastIndexOf(NL, got - 1) + 1;
    }
    if (end === 0) break;
    enc.feed(buf, 0, end);
    pos += end;
  }
  return pos - from;
}

/** The end of fd's last complete line at or before `size` (0: none). */
function lastLineEnd(fd: number, size: number): number {
  let pos = size;
  while (pos > 0) {
    const n = Math.min(pos, 64 * 1024);
    const buf = block(n);
    const got = readFully(fd, buf, n, pos - n);
    if (got < n) return 0;
    const i = buf.lastIndexOf(NL, n - 1);
    if (i >= 0) return pos - n + i + 1;
    pos -= n;
  }
  return 0;
}

/** Where the last `lines` lines of fd's [0, end) start, and how many of them there are. */
function tailStart(fd: number, end: number, lines: number): { start: number; count: number } {
  let count = 0;
  let pos = end; // bytes before pos not yet looked at
  // the newline ending the last line is end-1; each earlier newline starts one more line
  let skipLast = true;
  while (pos > 0) {
    const n = Math.min(pos, 256 * 1024);
    const buf = block(n);
    if (readFully(fd, buf, n, pos - n) < n) break;
    let i = n - 1;
    for (;;) {
      const k = buf.lastIndexOf(NL, i);
      if (k < 0) break;
      if (skipLast && pos - n + k === end - 1) skipLast = false;
      else if (++count === lines) return { start: pos - n + k + 1, count };
      if (k === 0) break;
      i = k - 1;
    }
    pos -= n;
  }
  // the file's first line has no newline before it
  return { start: 0, count: end > 0 ? count + 1 : 0 };
}

interface Part {
  fd: number;
  from: number;
  to: number;
}

/**
 * The log as it is now, read block by block: `next()` gives the frames of about one block of input (an
 * empty array when there is nothing left). The live file stays open for a follower (`follow()`).
 */
export class LogReader {
  private readonly parts: Part[] = [];
  private readonly fds: number[] = [];
  private liveFd = -1;
  private liveIno = 0;
  private liveEnd = 0;
  private readonly enc: LogEncoder;

  constructor(
    private readonly path: string,
    private readonly q: LogQuery,
  ) {
    this.enc = new LogEncoder(q);
    try {
      this.open();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  private open(): void {
    // The live file first (its inode pins it), then the rotated ones; a rotation in between shows as
    // the same inode under two names, read once.
    const files = logFiles(this.path);
    const opened: { fd: number; size: number; ino: number }[] = [];
    const seen = new Set<number>();
    for (const file of [...files].reverse()) {
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch {
        continue; // rotated away meanwhile
      }
      this.fds.push(fd);
      const st = fstatSync(fd);
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      if (file === this.path) {
        this.liveFd = fd;
        this.liveIno = st.ino;
      }
      opened.unshift({ fd, size: st.size, ino: st.ino });
    }
    const ends = opened.map((f) => (f.fd === this.liveFd ? lastLineEnd(f.fd, f.size) : f.size));
    if (this.liveFd >= 0) this.liveEnd = ends[ends.length - 1]!;
    const starts = opened.map(() => 0);
    if (this.q.tail >= 0) {
      let left = this.q.tail;
      for (let i = opened.length - 1; i >= 0; i--) {
        if (left <= 0) {
          starts[i] = ends[i]!;
          continue;
        }
        const t = tailStart(opened[i]!.fd, ends[i]!, left);
        starts[i] = t.start;
        left -= t.count;
      }
    }
    opened.forEach((f, i) => {
      if (starts[i]! < ends[i]!) this.parts.push({ fd: f.fd, from: starts[i]!, to: ends[i]! });
    });
  }

  /** The frames of the next block of the log; empty when done. */
  next(budget = READ_BYTES): Buffer[] {
    while (this.parts.length && !this.enc.stopped) {
      const part = this.parts[0]!;
      const n = feedRange(part.fd, part.from, part.to, this.enc, budget);
      part.from += n;
      if (n === 0 || part.from >= part.to) this.parts.shift();
      const chunks = this.enc.take();
      if (chunks.length) return chunks;
    }
    return this.enc.take();
  }

  /** True when the first line after `until` was met. */
  get stopped(): boolean {
    return this.enc.stopped;
  }

  /** A follower from the end of what this reader read (it takes over the live file). */
  follow(): LogFollower {
    const fd = this.liveFd;
    this.liveFd = -1;
    const i = this.fds.indexOf(fd);
    if (i >= 0) this.fds.splice(i, 1);
    return new LogFollower(this.path, fd, this.liveIno, this.liveEnd, this.enc);
  }

  close(): void {
    for (const fd of this.fds) {
      try {
        closeSync(fd);
      } catch {
        // closed
      }
    }
    this.fds.length = 0;
  }
}

/** Everything in the log files now, filtered, as encoded chunks (batched). */
export function readLog(path: string, q: LogQuery): { chunks: Buffer[] } {
  const r = new LogReader(path, q);
  try {
    const chunks: Buffer[] = [];
    for (let c = r.next(); c.length; c = r.next()) chunks.push(...c);
    return { chunks };
  } finally {
    r.close();
  }
}

/**
 * What a follower holds open at most beyond its current file: a client that has fallen behind keeps that
 * much of the rotated log alive until it is read; a stuck one must not keep all of it.
 */
const MAX_PINNED = 256;
const MAX_PINNED_BYTES = 256 * 1024 * 1024;

interface Pinned {
  fd: number;
  ino: number;
  size: number;
}

/**
 * Follows the live file from where a reader ended: new complete lines, across rotations. Each file is held
 * open from the moment it is seen (`pin`, on every change in the log's directory), so a rotation cannot
 * remove lines before they are read: files are read in order, each to its end, then the next.
 */
export class LogFollower {
  /** More is waiting than the last read() took. */
  more = false;
  /** Files newer than the current one, oldest first (the last is the live file). */
  private readonly queue: Pinned[] = [];
  /** The queued files' sizes when pinned. */
  private pinnedBytes = 0;
  private watcher: FSWatcher | undefined;

  constructor(
    private readonly path: string,
    private fd: number,
    private ino: number,
    private offset: number,
    private readonly enc: LogEncoder,
  ) {}

  get stopped(): boolean {
    return this.enc.stopped;
  }

  /**
   * Watches the log's directory (inotify): every change pins new files and calls onChange. False when
   * watching is not available (the caller polls).
   */
  watch(onChange: () => void): boolean {
    const name = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, file) => {
        if (file && !String(file).startsWith(name)) return;
        this.pin();
        onChange();
      });
      this.watcher.on('error', () => undefined);
      return true;
    } catch {
      return false;
    }
  }

  /** Opens the files rotated since the newest one held (oldest first) and the live one. */
  pin(): void {
    for (let attempt = 0; attempt < 5; attempt++) {
      const newest = this.queue.length ? this.queue[this.queue.length - 1]!.ino : this.fd >= 0 ? this.ino : -1;
      try {
        if (statSync(this.path).ino === newest) return; // the usual case: no rotation since
      } catch {
        return; // between the rename and the new file
      }
      // the newest file held was the live one: its final size now counts
      const last = this.queue[this.queue.length - 1];
      if (last) {
        const size = fstatSync(last.fd).size;
        this.pinnedBytes += size - last.size;
        last.size = size;
      }
      if (this.queue.length >= MAX_PINNED || this.pinnedBytes >= MAX_PINNED_BYTES) return;
      // The files newer than the newest held, by name: after it in the rotation order (all if it is gone).
      // A rotation under way shows as a snapshot that changed while the files were opened: again.
      const snap = this.snapshot();
      if (!snap) return;
      const fresh = snap.slice(snap.findIndex((f) => f.ino === newest) + 1);
      const opened: Pinned[] = [];
      let ok = true;
      for (const f of fresh) {
        try {
          const fd = openSync(f.name, 'r');
          const st = fstatSync(fd);
          opened.push({ fd, ino: st.ino, size: st.size });
          if (st.ino !== f.ino) ok = false;
        } catch {
          ok = false;
        }
        if (!ok) break;
      }
      if (ok) {
        const again = this.snapshot();
        ok = !!again && again.length === snap.length && again.every((f, i) => f.ino === snap[i]!.ino && f.name === snap[i]!.name);
      }
      if (!ok) {
        for (const o of opened) closeSync(o.fd);
        continue;
      }
      if (this.fd < 0) {
        const first = opened.shift()!;
        this.fd = first.fd;
        this.ino = first.ino;
        this.offset = 0;
      }
      for (const o of opened) this.pinnedBytes += o.size;
      this.queue.push(...opened);
      return;
    }
  }

  /** The log's files, oldest first, with their inodes (null without a live file). */
  private snapshot(): { name: string; ino: number }[] | null {
    const out: { name: string; ino: number }[] = [];
    for (const name of logFiles(this.path)) {
      try {
        out.push({ name, ino: statSync(name).ino });
      } catch {
        if (name === this.path) return null; // between the rename and the new file
      }
    }
    return out.length && out[out.length - 1]!.name === this.path ? out : null;
  }

  /** The frames of the lines written since the last call (at most about `budget` bytes of them). */
  read(budget = 4 * READ_BYTES): Buffer[] {
    this.more = false;
    this.pin();
    let left = budget;
    for (let round = 0; round < 10_000 && this.fd >= 0 && !this.enc.stopped; round++) {
      const size = fstatSync(this.fd).size;
      if (size < this.offset) this.offset = 0; // truncated
      if (size > this.offset) {
        // a block at a time, pinning in between: rotations go on while this reads
        const n = feedRange(this.fd, this.offset, size, this.enc, Math.min(left, READ_BYTES));
        this.offset += n;
        left -= n;
        if (left <= 0) {
          this.more = true;
          break;
        }
        this.pin();
        if (n > 0 && this.offset < size) continue;
      }
      if (!this.queue.length) break; // the live file, read to its last complete line
      // A newer file exists, so this one is complete (the shim writes its last line before the rename).
      const size2 = fstatSync(this.fd).size;
      if (size2 > this.offset && lastLineEnd(this.fd, size2) > this.offset) continue;
      closeSync(this.fd);
      const next = this.queue.shift()!;
      this.pinnedBytes -= next.size;
      this.fd = next.fd;
      this.ino = next.ino;
      this.offset = 0;
    }
    return this.enc.take();
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    for (const f of this.queue.splice(0)) closeSync(f.fd);
  }
}
