import { invalid } from '@berth/contracts';

/** IPv4 arithmetic for IPAM: addresses as unsigned 32-bit numbers. */
export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw invalid(`invalid IPv4 address: ${ip}`);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}
export const intToIp = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

export interface Cidr {
  readonly base: number;
  readonly prefix: number;
}
export function parseCidr(cidr: string): Cidr {
  const [ip, len, ...rest] = cidr.split('/');
  const prefix = Number(len);
  if (rest.length || ip === undefined || len === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw invalid(`invalid CIDR address: ${cidr}`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (ipToInt(ip) & mask) >>> 0, prefix };
}
export const formatCidr = (c: Cidr) => `${intToIp(c.base)}/${c.prefix}`;
export const size = (c: Cidr) => 2 ** (32 - c.prefix);
export const last = (c: Cidr) => c.base + size(c) - 1;
export const contains = (c: Cidr, ip: number) => ip >= c.base && ip <= last(c);
export const overlaps = (a: Cidr, b: Cidr) => a.base <= last(b) && b.base <= last(a);

/** The subnets of each pool in order (`{base: 172.18.0.0/16, size: 24}` → 172.18.0.0/24, 172.18.1.0/24, …). */
export function* poolSubnets(pools: readonly { base: string; size: number }[]): Generator<Cidr> {
  for (const pool of pools) {
    const base = parseCidr(pool.base);
    if (pool.size < base.prefix) continue;
    const step = 2 ** (32 - pool.size);
    for (let n = base.base; n + step - 1 <= last(base); n += step) yield { base: n, prefix: pool.size };
  }
}

/** First pool subnet overlapping none of `taken`. */
export function pickSubnet(pools: readonly { base: string; size: number }[], taken: readonly Cidr[]): Cidr | null {
  for (const candidate of poolSubnets(pools)) {
    if (!taken.some((t) => overlaps(candidate, t))) return candidate;
  }
  return null;
}

/** Lowest free host address: not the network, broadcast, gateway or any `used`. */
export function pickAddress(subnet: Cidr, gateway: number, used: ReadonlySet<number>, range?: Cidr): number | null {
  const from = Math.max(subnet.base + 1, range?.base ?? 0);
  const to = Math.min(last(subnet) - 1, range ? last(range) : Infinity);
  for (let n = from; n <= to; n++) {
    if (n !== gateway && !used.has(n)) return n;
  }
  return null;
}

/** Docker's MAC for an IPv4 endpoint: 02:42 followed by the address bytes. */
export const macFor = (ip: number) =>
  ['02', '42', ...[ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
