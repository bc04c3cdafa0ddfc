import { type DomainError, ErrorCode, type NetworkCreated, type NetworkEvent } from '@berth/contracts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCidr, pickSubnet } from './ipam';
import { decide, fold, type NetworkCommand } from './network.decider';
import { toPublishedPorts } from './port-bindings';

const data = (over: Partial<NetworkCreated['data']> = {}): NetworkCreated['data'] => ({
  id: 'n1',
  name: 'tnet',
  driver: 'bridge',
  bridge: 'br-n1',
  ipam: [{ subnet: '10.9.0.0/29', gateway: '10.9.0.1' }],
  internal: false,
  attachable: false,
  enableIPv6: false,
  options: {},
  labels: {},
  predefined: false,
  ...over,
});
const alloc = (containerId: string, over: Partial<Extract<NetworkCommand, { type: 'AllocateEndpoint' }>> = {}): NetworkCommand => ({
  type: 'AllocateEndpoint',
  endpointId: `${containerId}0123456789abcdef`,
  containerId,
  containerName: containerId,
  aliases: [],
  ifname: 'eth0',
  refuseExisting: false,
  ...over,
});
const run = (commands: NetworkCommand[]) =>
  commands.reduce<NetworkEvent[]>((events, c) => [...events, ...decide(c, fold(events))], []);
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as DomainError).code;
  }
  return 'no error';
};

describe('network decider', () => {
  it('leases the lowest free address, skipping the gateway; reuses released ones; runs out cleanly', () => {
    const events = run([{ type: 'CreateNetwork', data: data() }, alloc('a'), alloc('b'), alloc('c')]);
    const ips = events.flatMap((e) => (e.type === 'EndpointAllocated' ? [e.data.endpoint.ip] : []));
    assert.deepEqual(ips, ['10.9.0.2', '10.9.0.3', '10.9.0.4']);
    const after = run([{ type: 'CreateNetwork', data: data() }, alloc('a'), alloc('b'), { type: 'ReleaseEndpoint', containerId: 'a' }, alloc('d')]);
    const last = after.at(-1)!;
    assert.equal(last.type === 'EndpointAllocated' && last.data.endpoint.ip, '10.9.0.2');
    assert.equal(last.type === 'EndpointAllocated' && last.data.endpoint.mac, '02:42:0a:09:00:02');
    const full = run([{ type: 'CreateNetwork', data: data() }, ...['a', 'b', 'c', 'd', 'e'].map((c) => alloc(c))]);
    assert.equal(code(() => decide(alloc('f'), fold(full))), ErrorCode.Unavailable);
  });

  it('connect-container is idempotent; the API connect refuses a second endpoint', () => {
    const given = run([{ type: 'CreateNetwork', data: data() }, alloc('a')]);
    assert.deepEqual(decide(alloc('a'), fold(given)), []);
    assert.equal(code(() => decide(alloc('a', { refuseExisting: true }), fold(given))), ErrorCode.Forbidden);
  });

  it('refuses removing predefined networks and networks with endpoints, with Docker wording', () => {
    const predefined = run([{ type: 'CreateNetwork', data: data({ name: 'bridge', predefined: true }) }]);
    assert.throws(() => decide({ type: 'RemoveNetwork', id: 'n1' }, fold(predefined)), /bridge is a pre-defined network and cannot be removed/);
    const used = run([{ type: 'CreateNetwork', data: data() }, alloc('a')]);
    assert.throws(() => decide({ type: 'RemoveNetwork', id: 'n1' }, fold(used)), /network tnet id n1 has active endpoints/);
  });

  it('picks a pool subnet overlapping no taken one', () => {
    const pools = [{ base: '172.17.0.0/16', size: 16 }, { base: '172.18.0.0/16', size: 24 }];
    assert.equal(pickSubnet(pools, [])!.base, parseCidr('172.17.0.0/16').base);
    const s = pickSubnet(pools, [parseCidr('172.17.5.0/24'), parseCidr('172.18.0.0/24')])!;
    assert.deepEqual(s, parseCidr('172.18.1.0/24'));
  });

  it('turns Docker port bindings into ports to publish', () => {
    assert.deepEqual(
      toPublishedPorts({ '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostPort: '' }] }, { '80/tcp': {}, '9000/tcp': {} }, true),
      [
        { containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 8080 },
        { containerPort: 53, proto: 'udp', hostIp: '', hostPort: 0 },
        { containerPort: 9000, proto: 'tcp', hostIp: '', hostPort: 0 },
      ],
    );
  });
});
