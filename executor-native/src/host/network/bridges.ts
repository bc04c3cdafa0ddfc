import type { NetworkBridgeSpec } from '@berth/contracts';
import { access, writeFile } from 'node:fs/promises';
import { deleteRulesByComment, ensureTable, listRules } from './nft-table';
import { checkCidr, checkIfname, checkIp, nft, run } from './sys';

/** The host network namespace has this interface (read from sysfs: no `ip` process). */
export async function linkExists(name: string): Promise<boolean> {
  return access(`/sys/class/net/${checkIfname(name)}`).then(
    () => true,
    () => false,
  );
}

async function setSysctl(path: string, value: string): Promise<void> {
  await writeFile(path, value);
}

/**
 * Idempotent: the bridge with the gateway address, up, route_localnet on (so DNAT of 127.0.0.1 works),
 * and its nft rules. `forwarding` (ip_forward=1, global) only when the host's namespace asks for it:
 * test namespaces never flip host-wide knobs.
 */
export async function ensureBridge(spec: NetworkBridgeSpec, opts: { forwarding: boolean }): Promise<{ created: boolean }> {
  const bridge = checkIfname(spec.bridge);
  checkCidr(spec.subnet);
  checkIp(spec.gateway);
  const prefix = spec.subnet.split('/')[1]!;
  let created = false;
  if (!(await linkExists(bridge))) {
    await run('ip', ['link', 'add', 'name', bridge, 'type', 'bridge']);
    created = true;
  }
  const addrs = await run('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]);
  if (!addrs.includes(` ${spec.gateway}/${prefix} `)) {
    await run('ip', ['addr', 'add', `${spec.gateway}/${prefix}`, 'dev', bridge]);
  }
  await run('ip', ['link', 'set', bridge, 'up']);
  await setSysctl(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, '1');
  if (opts.forwarding && !spec.internal) await setSysctl('/proc/sys/net/ipv4/ip_forward', '1');

  await ensureTable(spec.table);
  const comment = `br:${bridge}`;
  const post = await listRules(spec.table, 'postrouting');
  if (!post.some((r) => r.comment === comment)) {
    const lines = [`add rule inet ${spec.table} postrouting oifname "${bridge}" ip saddr 127.0.0.0/8 masquerade comment "${comment}"`];
    if (!spec.internal) {
      lines.push(
        `add rule inet ${spec.table} postrouting ip saddr ${spec.subnet} oifname != "${bridge}" masquerade comment "${comment}"`,
      );
    }
    lines.push(
      `add rule inet ${spec.table} forward iifname "${bridge}" accept comment "${comment}"`,
      `add rule inet ${spec.table} forward oifname "${bridge}" accept comment "${comment}"`,
    );
    await nft(lines.join('\n') + '\n');
  }
  return { created };
}

export async function removeBridge(spec: NetworkBridgeSpec): Promise<{ removed: boolean }> {
  const bridge = checkIfname(spec.bridge);
  const comment = `br:${bridge}`;
  await deleteRulesByComment(spec.table, 'postrouting', comment);
  await deleteRulesByComment(spec.table, 'forward', comment);
  if (!(await linkExists(bridge))) return { removed: false };
  await run('ip', ['link', 'del', bridge]);
  return { removed: true };
}

/** IPv4 route destinations on the host, minus the default route and the excluded devices. */
export async function hostRoutes(excludeDevs: readonly string[] = []): Promise<{ routes: string[] }> {
  const out = await run('ip', ['-4', '-j', 'route', 'show', 'table', 'all']);
  const routes = (JSON.parse(out || '[]') as { dst: string; dev?: string; type?: string }[])
    .filter((r) => r.dst !== 'default' && (!r.type || r.type === 'unicast') && !excludeDevs.includes(r.dev ?? ''))
    .map((r) => (r.dst.includes('/') ? r.dst : `${r.dst}/32`));
  return { routes: [...new Set(routes)] };
}
