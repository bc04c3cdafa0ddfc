import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

/**
 * Reads a container's json-file log (Docker's format, written by its shim):
 * `{"log":"…","stream":"stdout|stderr","time":"RFC3339Nano"}\n`, rotated as `container.log.N…1`.
 */
export interface LogQuery {
  readonly stdout: boolean;
  readonly stderr: boolean;
  /** nanoseconds since the epoch, inclusive bounds (null: none) */
  readonly sinceNano: bigint | null;
  readonly untilNano: bigint | null;
  readonly timestamps: boolean;
  /** -1: all */
  readonly tail: number;
  readonly tty: boolean;
}

interface LogLine {
  log: string;
  stream: string;
  time: string;
}

/** RFC3339Nano -> ns since epoch (keeps the nanoseconds Date drops). */
export function timeNano(time: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return BigInt(Date.parse(time) || 0) * 1_000_000n;
  const base = BigInt(Date.parse(`${m[1]}${m[3]}`)) * 1_000_000n;
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return base + BigInt(frac || '0');
}

export function logFiles(path: string, max = 100): string[] {
  const files: string[] = [];
  for (let i = max; i >= 1; i--) if (existsSync(`${path}.${i}`)) files.push(`${path}.${i}`);
  if (existsSync(path)) files.push(path);
  return files;
}

/** Encoded output is cut into chunks of about this size. */
const CHUNK_BYTES = 256 * 1024;

/**
 * One stdcopy frame per line (or the raw bytes with a TTY), with the optional timestamp prefix,
 * written straight into chunk-sized buffers: no per-line header, payload and concat allocations
 * (100k lines made 300k small buffers).
 */
function encodeAll(lines: readonly LogLine[], q: LogQuery): Buffer[] {
  const out: Buffer[] = [];
  const header = q.tty ? 0 : 8;
  let i = 0;
  while (i < lines.length) {
    const texts: string[] = [];
    const sizes: number[] = [];
    let bytes = 0;
    while (i < lines.length && bytes < CHUNK_BYTES) {
      const l = lines[i++]!;
      const text = q.timestamps ? `${l.time} ${l.log}` : l.log;
      const size = Buffer.byteLength(text, 'utf8');
      texts.push(text);
      sizes.push(size);
      bytes += header + size;
    }
    const buf = Buffer.allocUnsafe(bytes);
    let off = 0;
    for (let k = 0, first = i - texts.length; k < texts.length; k++) {
      if (header) {
        buf[off] = lines[first + k]!.stream === 'stderr' ? 2 : 1;
        buf[off + 1] = 0;
        buf[off + 2] = 0;
        buf[off + 3] = 0;
        buf.writeUInt32BE(sizes[k]!, off + 4);
        off += 8;
      }
      off += buf.write(texts[k]!, off, sizes[k]!, 'utf8');
    }
    out.push(buf);
  }
  return out;
}

function accept(line: LogLine, q: LogQuery): boolean {
  if (line.stream === 'stdout' ? !q.stdout : !q.stderr) return false;
  if (q.sinceNano !== null || q.untilNano !== null) {
    const t = timeNano(line.time);
    if (q.sinceNano !== null && t < q.sinceNano) return false;
    if (q.untilNano !== null && t > q.untilNano) return false;
  }
  return true;
}

const LOG_PREFIX = '{"log":"';
const LOG_STREAM = '","stream":"';
const LOG_TIME = '","time":"';

/**
 * One json-file line. The shim writes exactly `{"log":"…","stream":"stdout|stderr","time":"…"}`, and
 * every `"` inside the log text is escaped, so the last `","stream":"` ends it: taken apart without
 * JSON.parse (which was most of the time of `docker logs`), unescaping only when the text needs it.
 * Anything else goes through JSON.parse.
 */
function parseLine(s: string): LogLine {
  if (s.startsWith(LOG_PREFIX) && s.endsWith('"}')) {
    const mid = s.lastIndexOf(LOG_STREAM);
    if (mid >= LOG_PREFIX.length - 1) {
      const at = mid + LOG_STREAM.length;
      const stream = s.startsWith('stdout', at) ? 'stdout' : s.startsWith('stderr', at) ? 'stderr' : '';
      if (stream && s.startsWith(LOG_TIME, at + 6)) {
        const time = s.slice(at + 6 + LOG_TIME.length, -2);
        const raw = s.slice(LOG_PREFIX.length, mid);
        const esc = raw.indexOf('\\');
        let log: string;
        if (esc < 0) log = raw;
        else if (esc === raw.length - 2 && raw.endsWith('\\n')) log = `${raw.slice(0, -2)}\n`;
        else log = JSON.parse(`"${raw}"`) as string;
        if (time.indexOf('"') < 0) return { log, stream, time };
      }
    }
  }
  return JSON.parse(s) as LogLine;
}

function parseLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    if (nl > start) {
      try {
        out.push(parseLine(text.slice(start, nl)));
      } catch {
        // a torn line (rotation in progress): skip
      }
    }
    start = nl + 1;
  }
  return out;
}

/** Everything in the log files now, filtered, as encoded chunks (batched), plus where `path` ended. */
export function readLog(path: string, q: LogQuery): { chunks: Buffer[]; offset: number; ino: number } {
  const lines: LogLine[] = [];
  let offset = 0;
  let ino = 0;
  for (const file of logFiles(path)) {
    const data = readFileSync(file);
    let end = data.length;
    if (file === path) {
      end = data.lastIndexOf(10) + 1;
      offset = end;
      ino = statSync(file).ino;
    }
    for (const l of parseLines(data.subarray(0, end).toString('utf8'))) if (accept(l, q)) lines.push(l);
  }
  const picked = q.tail >= 0 ? lines.slice(Math.max(0, lines.length - q.tail)) : lines;
  return { chunks: encodeAll(picked, q), offset, ino };
}

/** Follows `path` from `offset`: new complete lines, switching to the new file after a rotation. */
export class LogFollower {
  constructor(
    private readonly path: string,
    private offset: number,
    private ino: number,
    private readonly q: LogQuery,
  ) {}

  read(): Buffer[] {
    const out: Buffer[] = [];
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return out;
    }
    try {
      const st = fstatSync(fd);
      if (st.ino !== this.ino || st.size < this.offset) {
        // Rotated: finish the old file (now .1), then start the new one at 0.
        if (this.ino !== 0) {
          try {
            const old = openSync(`${this.path}.1`, 'r');
            try {
              const ost = fstatSync(old);
              if (ost.ino === this.ino) out.push(...this.readFrom(old, this.offset, ost.size).chunks);
            } finally {
              closeSync(old);
            }
          } catch {
            // no rotated file: lines lost to rotation cannot be recovered
          }
        }
        this.ino = st.ino;
        this.offset = 0;
      }
      if (st.size > this.offset) {
        const r = this.readFrom(fd, this.offset, st.size);
        this.offset += r.consumed;
        out.push(...r.chunks);
      }
    } finally {
      closeSync(fd);
    }
    return out;
  }

  private readFrom(fd: number, from: number, to: number): { chunks: Buffer[]; consumed: number } {
    const buf = Buffer.alloc(to - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n <= 0) break;
      got += n;
    }
    const end = buf.subarray(0, got).lastIndexOf(10) + 1;
    const lines = parseLines(buf.subarray(0, end).toString('utf8')).filter((l) => accept(l, this.q));
    return { chunks: encodeAll(lines, this.q), consumed: end };
  }
}
