import { invalid, type DockerExposedPorts, type DockerPortBindings, type PortProto, type PublishedPort } from '@berth/contracts';

function parseKey(key: string): { port: number; proto: PortProto } {
  const [portText, protoText = 'tcp'] = key.split('/');
  const port = Number(portText);
  const proto = protoText.toLowerCase() as PortProto;
  if (!Number.isInteger(port) || port < 1 || port > 65535 || !['tcp', 'udp', 'sctp'].includes(proto)) {
    throw invalid(`invalid port specification: "${key}"`);
  }
  return { port, proto };
}

/**
 * Docker's PortBindings (+ ExposedPorts with PublishAll) → the ports to publish. HostPort "" or "0":
 * any free port (0 here, the executor picks). A range "8000-8010" takes its first port.
 */
export function toPublishedPorts(
  bindings: DockerPortBindings | undefined | null,
  exposed: DockerExposedPorts | undefined | null,
  publishAll: boolean,
): PublishedPort[] {
  const out: PublishedPort[] = [];
  const seen = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, proto } = parseKey(key);
    seen.add(`${port}/${proto}`);
    for (const b of list?.length ? list : [{}]) {
      const hostPortText = (b.HostPort ?? '').split('-')[0]!.trim();
      const hostPort = hostPortText === '' ? 0 : Number(hostPortText);
      if (!Number.isInteger(hostPort) || hostPort < 0 || hostPort > 65535) throw invalid(`invalid hostPort: ${b.HostPort}`);
      out.push({ containerPort: port, proto, hostIp: b.HostIp ?? '', hostPort });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { port, proto } = parseKey(key);
      if (seen.has(`${port}/${proto}`)) continue;
      out.push({ containerPort: port, proto, hostIp: '', hostPort: 0 });
    }
  }
  return out;
}
