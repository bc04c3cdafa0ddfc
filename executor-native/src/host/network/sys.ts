import { DomainError, ErrorCode } from '@berth/contracts';
import { execFile } from 'node:child_process';

const TIMEOUT_MS = 10_000;

/** Runs a host tool (ip, nft, nsenter) with a timeout; a non-zero exit is an INTERNAL DomainError. */
export function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const detail = (stderr || err.message).trim();
        reject(new DomainError(ErrorCode.Internal, `${cmd} ${args.join(' ')}: ${detail}`));
      } else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Like run, but resolves false instead of throwing (for "delete if present"). */
export async function tryRun(cmd: string, args: readonly string[]): Promise<boolean> {
  try {
    await run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

export const nft = (script: string) => run('nft', ['-f', '-'], script);

/** Serializes the kernel work of this module: nft scripts and port picking must not interleave. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  lock<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

// ---- validation: this process is root, names and addresses go to command lines ----
const IFNAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;
const TABLE = /^[a-z0-9_]{1,64}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

const bad = (what: string, value: unknown) =>
  new DomainError(ErrorCode.InvalidArgument, `invalid ${what} ${JSON.stringify(value)}`);

export function checkIfname(name: string): string {
  if (typeof name !== 'string' || !IFNAME.test(name)) throw bad('interface name', name);
  return name;
}
export function checkTable(name: string): string {
  if (typeof name !== 'string' || !TABLE.test(name)) throw bad('nft table', name);
  return name;
}
export function checkIp(ip: string): string {
  if (typeof ip !== 'string' || !IPV4.test(ip)) throw bad('IPv4 address', ip);
  return ip;
}
export function checkCidr(cidr: string): string {
  const [ip, len, ...rest] = String(cidr).split('/');
  const n = Number(len);
  if (rest.length || !Number.isInteger(n) || n < 0 || n > 32) throw bad('subnet', cidr);
  checkIp(ip!);
  return cidr;
}
export function checkMac(mac: string): string {
  if (typeof mac !== 'string' || !MAC.test(mac)) throw bad('MAC address', mac);
  return mac;
}
export function checkPid(pid: number): number {
  if (!Number.isInteger(pid) || pid <= 1) throw bad('pid', pid);
  return pid;
}
export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad('port', port);
  return port;
}
/** Endpoint ids go into nft comments. */
export function checkId(id: string): string {
  if (typeof id !== 'string' || !/^[0-9a-f]{12,64}$/.test(id)) throw bad('endpoint id', id);
  return id;
}
