import { DomainError, ErrorCode, type NetworkEndpoint, type PortProto, type PublishedPort } from '@berth/contracts';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { deleteRulesByComment, ensureTable, listRules } from './nft-table';
import { checkId, checkIp, checkPort, checkTable, nft } from './sys';

const PROTOS: readonly PortProto[] = ['tcp', 'udp', 'sctp'];
const ANY = new Set(['', '0.0.0.0', '::']);
const PICK_ATTEMPTS = 32;

interface Taken {
  readonly hostIp: string;
  readonly proto: string;
  readonly port: number;
}

/** Host ports already published by other endpoints, from the `ports` chain. */
async function takenPorts(table: string, exceptComment: string): Promise<Taken[]> {
  return (await listRules(table, 'ports'))
    .filter((r) => r.comment !== exceptComment)
    .flatMap((r) => {
      const m = /(?:ip daddr (\S+) )?(tcp|udp|sctp) dport (\d+)/.exec(r.text);
      return m ? [{ hostIp: m[1] ?? '', proto: m[2]!, port: Number(m[3]) }] : [];
    });
}

const clashes = (taken: readonly Taken[], hostIp: string, proto: string, port: number) =>
  taken.some((t) => t.proto === proto && t.port === port && (t.hostIp === '' || hostIp === '' || t.hostIp === hostIp));

/** Binds (and releases) a socket to learn whether the port is free, or (port 0) which port the kernel picks. */
function probe(proto: PortProto, hostIp: string, port: number): Promise<number> {
  const host = hostIp || '0.0.0.0';
  if (proto === 'sctp') return Promise.resolve(port || 0);
  return new Promise((resolve, reject) => {
    if (proto === 'udp') {
      const sock = createSocket('udp4');
      sock.once('error', reject);
      sock.bind({ address: host, port, exclusive: true }, () => {
        const picked = sock.address().port;
        sock.close(() => resolve(picked));
      });
      return;
    }
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => {
      const addr = server.address();
      const picked = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => resolve(picked));
    });
  });
}

const allocated = (hostIp: string, port: number) =>
  new DomainError(ErrorCode.Conflict, `Bind for ${hostIp || '0.0.0.0'}:${port} failed: port is already allocated`);

/**
 * DNAT from host ports to the endpoint's IP, in the namespace's nft table (`ports` chain, comments
 * `ep:<endpointId>`). Idempotent: the endpoint's previous rules are replaced. HostPort 0 picks a free
 * port the way Docker does (the kernel's choice for an ephemeral bind, skipping ports Berth already
 * publishes). 127.0.0.1 works through the output hook + route_localnet on the bridge + masquerade.
 * IPv4 only: a `::` host address is treated as every IPv4 address.
 */
export async function publishPorts(
  table: string,
  endpoint: NetworkEndpoint,
  ports: readonly PublishedPort[],
): Promise<{ ports: PublishedPort[] }> {
  checkTable(table);
  const comment = `ep:${checkId(endpoint.endpointId)}`;
  await ensureTable(table);
  await deleteRulesByComment(table, 'ports', comment);
  rulesByTable.get(table)?.delete(comment);
  if (ports.length === 0) return { ports: [] };
  if (endpoint.driver !== 'bridge') {
    throw new DomainError(ErrorCode.InvalidArgument, `ports can only be published on bridge networks`);
  }
  const targetIp = checkIp(endpoint.ip);
  const taken = await takenPorts(table, comment);
  const result: PublishedPort[] = [];
  for (const p of ports) {
    if (!PROTOS.includes(p.proto)) throw new DomainError(ErrorCode.InvalidArgument, `invalid proto ${JSON.stringify(p.proto)}`);
    const hostIp = ANY.has(p.hostIp ?? '') ? '' : checkIp(p.hostIp);
    const containerPort = checkPort(p.containerPort);
    let hostPort = checkPort(Number(p.hostPort) || 0);
    if (hostPort === 0) {
      for (let i = 0; i < PICK_ATTEMPTS && hostPort === 0; i++) {
        const candidate = await probe(p.proto, hostIp, 0);
        if (!clashes(taken, hostIp, p.proto, candidate)) hostPort = candidate;
      }
      if (hostPort === 0) throw new DomainError(ErrorCode.Unavailable, 'no free host port found');
    } else {
      if (clashes(taken, hostIp, p.proto, hostPort)) throw allocated(hostIp, hostPort);
      try {
        await probe(p.proto, hostIp, hostPort);
      } catch (e) {
        throw new DomainError(
          ErrorCode.Conflict,
          `failed to bind host port for ${hostIp || '0.0.0.0'}:${hostPort}:${targetIp}:${containerPort}/${p.proto}: ${(e as Error).message.includes('EADDRINUSE') ? 'address already in use' : (e as Error).message}`,
        );
      }
    }
    taken.push({ hostIp, proto: p.proto, port: hostPort });
    result.push({ containerPort, proto: p.proto, hostIp: hostIp ? hostIp : '0.0.0.0', hostPort });
  }
  const lines = result.map(
    (p) =>
      `add rule inet ${table} ports ${p.hostIp !== '0.0.0.0' ? `ip daddr ${p.hostIp} ` : ''}${p.proto} dport ${p.hostPort} dnat ip to ${targetIp}:${p.containerPort} comment "${comment}"`,
  );
  await nft(lines.join('\n') + '\n');
  (await endpointsWithRules(table))?.add(comment);
  return { ports: result };
}

export async function unpublishPorts(table: string, endpointId: string): Promise<{ removed: number }> {
  const comment = `ep:${checkId(endpointId)}`;
  // Most endpoints never published anything: no `nft` process for them.
  const known = await endpointsWithRules(checkTable(table));
  if (known && !known.has(comment)) return { removed: 0 };
  const removed = await deleteRulesByComment(table, 'ports', comment);
  known?.delete(comment);
  return { removed };
}

/**
 * Per table, the endpoint comments that have rules in its `ports` chain: read from nft once, then kept
 * by this process's own publishes and deletes (the executor is the only writer of its node's tables).
 * undefined when the chain cannot be read (then every unpublish asks nft).
 */
const rulesByTable = new Map<string, Set<string>>();
async function endpointsWithRules(table: string): Promise<Set<string> | undefined> {
  let known = rulesByTable.get(table);
  if (known) return known;
  try {
    known = new Set((await listRules(table, 'ports')).map((r) => r.comment).filter((c): c is string => !!c));
  } catch {
    return undefined;
  }
  rulesByTable.set(table, known);
  return known;
}
