import { checkTable, nft, run } from './sys';

/**
 * One nft table per Berth namespace (`inet berth_<ns>`), so a test run's cleanup is one
 * `nft delete table` and runs never see each other's rules.
 *
 *   prerouting/output (nat): `fib daddr type local jump ports`: only traffic to this host's addresses
 *   ports: one DNAT rule per published port, commented `ep:<endpointId>`
 *   postrouting (nat): per bridge, commented `br:<bridge>`: masquerade the subnet leaving by another
 *     interface (not for internal networks), and 127.0.0.0/8 sources leaving by the bridge (published
 *     ports reached through 127.0.0.1: DNAT + route_localnet on the bridge + this masquerade)
 *   forward (filter, policy accept): per bridge `iifname/oifname <bridge> accept`, so a host
 *     firewall's later drop policy does not eat container traffic
 */
export async function ensureTable(table: string): Promise<void> {
  checkTable(table);
  await nft(`add table inet ${table}
add chain inet ${table} prerouting { type nat hook prerouting priority dstnat; policy accept; }
add chain inet ${table} output { type nat hook output priority -100; policy accept; }
add chain inet ${table} postrouting { type nat hook postrouting priority srcnat; policy accept; }
add chain inet ${table} forward { type filter hook forward priority filter; policy accept; }
add chain inet ${table} ports
`);
  for (const chain of ['prerouting', 'output']) {
    const listing = await run('nft', ['list', 'chain', 'inet', table, chain]);
    if (!listing.includes('jump ports')) {
      await nft(`add rule inet ${table} ${chain} fib daddr type local jump ports\n`);
    }
  }
}

export interface RuleLine {
  readonly handle: number;
  readonly text: string;
  readonly comment: string;
}

/** The rules of a chain with their handles and comments (empty when the table is missing). */
export async function listRules(table: string, chain: string): Promise<RuleLine[]> {
  let out: string;
  try {
    out = await run('nft', ['-a', 'list', 'chain', 'inet', checkTable(table), chain]);
  } catch {
    return [];
  }
  const rules: RuleLine[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*(.*?)\s*# handle (\d+)\s*$/.exec(line);
    if (!m || /^(chain|type|table)\b/.test(m[1]!)) continue;
    const comment = /comment "([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    rules.push({ handle: Number(m[2]), text: m[1]!, comment });
  }
  return rules;
}

/** Deletes every rule of `chain` whose comment equals `comment`; returns how many. */
export async function deleteRulesByComment(table: string, chain: string, comment: string): Promise<number> {
  const rules = (await listRules(table, chain)).filter((r) => r.comment === comment);
  if (rules.length === 0) return 0;
  await nft(rules.map((r) => `delete rule inet ${table} ${chain} handle ${r.handle}`).join('\n') + '\n');
  return rules.length;
}
