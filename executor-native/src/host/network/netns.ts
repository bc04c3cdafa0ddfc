import { readFile } from 'node:fs/promises';
import type { NetworkEndpoint } from '@berth/contracts';
import { netAttach } from '../../native';
import { linkExists } from './bridges';
import { checkIfname, checkIp, checkMac, checkPid, run, tryRun } from './sys';

const inNetns = (pid: number, args: string[]) => run('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'ip', ...args]);
/** Several `ip` commands in one process (`ip -batch`, stops at the first failure); arguments are validated names and addresses. */
const ipBatch = (lines: string[]) => run('ip', ['-batch', '-'], `${lines.join('\n')}\n`);
const inNetnsBatch = (pid: number, lines: string[]) =>
  run('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'ip', '-batch', '-'], `${lines.join('\n')}\n`);

/** /proc/<pid>/net/route (that netns's IPv4 table) has a default route (destination and mask 0). */
async function hasDefaultRoute(pid: number): Promise<boolean> {
  const table = await readFile(`/proc/${pid}/net/route`, 'latin1').catch(() => '');
  return table
    .split('\n')
    .slice(1)
    .some((line) => {
      const f = line.trim().split(/\s+/);
      return f.length >= 8 && f[1] === '00000000' && f[7] === '00000000';
    });
}

/** lo is up in /proc/<pid>/ns/net: only then does its local table (fib_trie) hold 127.0.0.1. */
async function loopbackUp(pid: number): Promise<boolean> {
  try {
    return (await readFile(`/proc/${pid}/net/fib_trie`, 'latin1')).includes('127.0.0.1');
  } catch {
    return false;
  }
}

/**
 * Puts a container on a bridge network: a veth pair, host end (`endpoint.hostVeth`) on the bridge,
 * the other moved into /proc/<pid>/ns/net and renamed `endpoint.ifname` (eth0), with the MAC, the
 * address, lo up, and the default route through the gateway when the container has none yet (the
 * first network wins, like Docker). Idempotent for an endpoint already attached to this pid.
 *
 * Called in-process by the container start path between berth-init's "ready" and "go", or through
 * the `network.attach-netns` job.
 */
export async function attachNetns(containerPid: number, endpoint: NetworkEndpoint): Promise<{ hostVeth: string }> {
  const pid = checkPid(containerPid);
  if (endpoint.driver !== 'bridge') {
    // host: nothing to do; null: lo only
    // berth-init brings lo up in the netns it creates; spawn nsenter + ip only when it is not (older init).
    if (endpoint.driver === 'null' && !(await loopbackUp(pid))) await inNetns(pid, ['link', 'set', 'lo', 'up']);
    return { hostVeth: '' };
  }
  const hostVeth = checkIfname(endpoint.hostVeth);
  const bridge = checkIfname(endpoint.bridge);
  const ifname = checkIfname(endpoint.ifname);
  checkIp(endpoint.ip);
  checkIp(endpoint.gateway);
  checkMac(endpoint.mac);
  const prefix = Number(endpoint.prefixLen);
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 31) throw new Error(`invalid prefix length ${prefix}`);

  if (await linkExists(hostVeth)) {
    const inside = await tryRun('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'ip', 'link', 'show', 'dev', ifname]);
    if (inside) return { hostVeth };
    // a previous run's leftover (its netns died while the host end lingered)
    await run('ip', ['link', 'del', hostVeth]);
  }
  // rtnetlink from one berth-init process (~2 ms); the `ip` commands below only if that fails.
  try {
    await netAttach({ pid, hostVeth, bridge, ifname, mac: endpoint.mac, ip: endpoint.ip, prefix, gateway: endpoint.gateway });
    return { hostVeth };
  } catch {
    await tryRun('ip', ['link', 'del', hostVeth]);
  }
  const peer = `vp${hostVeth.slice(2)}`;
  // One `ip` on the host and one in the netns (each process is ~5-10 ms on a busy node). The default
  // route is read from /proc/<pid>/net/route (the container's table, no process): the first network wins.
  await ipBatch([
    `link add name ${hostVeth} type veth peer name ${peer}`,
    `link set ${hostVeth} master ${bridge}`,
    `link set ${hostVeth} up`,
    `link set ${peer} netns ${pid}`,
  ]).catch(async (e) => {
    await tryRun('ip', ['link', 'del', hostVeth]);
    throw e;
  });
  try {
    const hasDefault = await hasDefaultRoute(pid);
    await inNetnsBatch(pid, [
      'link set lo up',
      `link set ${peer} name ${ifname} address ${endpoint.mac}`,
      `addr add ${endpoint.ip}/${prefix} dev ${ifname}`,
      `link set ${ifname} up`,
      ...(hasDefault ? [] : [`route add default via ${endpoint.gateway} dev ${ifname}`]),
    ]);
  } catch (e) {
    await tryRun('ip', ['link', 'del', hostVeth]);
    throw e;
  }
  return { hostVeth };
}

/** Removes the host end of the veth (the peer goes with it). Missing is fine. */
export async function detachNetns(endpoint: Pick<NetworkEndpoint, 'hostVeth'>): Promise<{ removed: boolean }> {
  if (!endpoint.hostVeth) return { removed: false };
  const hostVeth = checkIfname(endpoint.hostVeth);
  if (!(await linkExists(hostVeth))) return { removed: false };
  return { removed: await tryRun('ip', ['link', 'del', hostVeth]) };
}
