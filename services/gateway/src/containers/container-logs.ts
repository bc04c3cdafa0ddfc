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

/** One frame (stdcopy) or the raw bytes (TTY) for a log line, with the optional timestamp prefix. */
function encode(line: LogLine, q: LogQuery): Buffer {
  const text = q.timestamps ? `${line.time} ${line.log}` : line.log;
  const payload = Buffer.from(text, 'utf8');
  if (q.tty) return payload;
  const header = Buffer.alloc(8);
  header[0] = line.stream === 'stderr' ? 2 : 1;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
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

function parseLines(text: string): LogLine[] {
  const out: LogLine[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    if (nl > start) {
      try {
        out.push(JSON.parse(text.slice(start, nl)) as LogLine);
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
  return { chunks: batch(picked.map((l) => encode(l, q))), offset, ino };
}

function batch(parts: Buffer[], size = 256 * 1024): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer[] = [];
  let n = 0;
  for (const p of parts) {
    cur.push(p);
    n += p.length;
    if (n >= size) {
      out.push(Buffer.concat(cur));
      cur = [];
      n = 0;
    }
  }
  if (cur.length) out.push(Buffer.concat(cur));
  return out;
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
    return { chunks: batch(lines.map((l) => encode(l, this.q))), consumed: end };
  }
}
