import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { containerPaths, type ContainerRuntimeSpec } from '@berth/contracts';
import { ALL_CAPS, capabilitySet, configJson, DEFAULT_CAPS, hostsFile, ociResources, securityOptions, signalNumber } from './bundle';

const base: ContainerRuntimeSpec = {
  process: { args: ['sh'], env: ['A=1'] },
  hostname: 'h',
  mounts: [],
  networkNamespace: { mode: 'none' },
};

describe('bundle', () => {
  it('capabilities follow Docker: defaults, drop, add, ALL, privileged', () => {
    assert.deepEqual(capabilitySet({}), DEFAULT_CAPS);
    assert.ok(!capabilitySet({ capDrop: ['chown'] }).includes('CAP_CHOWN'));
    assert.ok(capabilitySet({ capAdd: ['NET_ADMIN'] }).includes('CAP_NET_ADMIN'));
    assert.deepEqual(capabilitySet({ capDrop: ['ALL'], capAdd: ['KILL'] }), ['CAP_KILL']);
    assert.deepEqual(capabilitySet({ privileged: true }), ALL_CAPS);
    assert.throws(() => capabilitySet({ capAdd: ['NOPE'] }), /unknown capability/);
  });

  it('security options', () => {
    assert.deepEqual(securityOptions({}), { seccomp: 'default', noNewPrivileges: false });
    assert.deepEqual(securityOptions({ securityOpt: ['seccomp=unconfined', 'no-new-privileges'] }), { seccomp: 'unconfined', noNewPrivileges: true });
    assert.deepEqual(securityOptions({ securityOpt: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] }).seccomp, { profile: '{"defaultAction":"SCMP_ACT_ALLOW"}' });
    assert.equal(securityOptions({ privileged: true }).seccomp, 'unconfined');
    assert.throws(() => securityOptions({ securityOpt: ['bogus'] }), /invalid --security-opt/);
  });

  it('resources map Docker names to the OCI subset; swap defaults to 2x memory on create only', () => {
    assert.deepEqual(ociResources({ memory: 100, nanoCpus: 1.5e9, pidsLimit: 10, blkioWeight: 300, cpusetCpus: '0' }, true), {
      memory: { limit: 100, swap: 200 },
      cpu: { period: 100000, quota: 150000, cpus: '0' },
      pids: { limit: 10 },
      blockIO: { weight: 300 },
    });
    assert.deepEqual(ociResources({ memory: 100 }, false), { memory: { limit: 100 } });
    assert.deepEqual(ociResources({ memory: 100, memorySwap: -1, pidsLimit: -1 }, true), { memory: { limit: 100, swap: -1 }, pids: { limit: -1 } });
    assert.throws(() => ociResources({ nanoCpus: 1e9, cpuQuota: 5000 }, true), /Conflicting options/);
  });

  it('config.json: env defaults, /etc binds unless the user mounts them, network namespace modes', () => {
    const paths = containerPaths('/d', '/run/d', 'abc');
    const c = configJson({ id: 'abc', spec: { ...base, mounts: [{ type: 'bind', source: '/x', destination: '/etc/hosts', readonly: true }] }, paths, lowerdirs: ['/l'], seccompPath: null, caps: DEFAULT_CAPS, noNewPrivileges: false }) as any;
    assert.deepEqual(c.process.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h', 'A=1']);
    assert.deepEqual(c.mounts.map((m: any) => m.destination), ['/etc/hostname', '/etc/resolv.conf', '/etc/hosts']);
    assert.deepEqual(c.mounts[2].options, ['rbind', 'rprivate', 'ro']);
    assert.ok(c.linux.namespaces.some((n: any) => n.type === 'network' && !n.path));
    assert.equal(c.linux.cgroupsPath, 'berth/abc');
    assert.deepEqual(c.rootfs, { lowerdirs: ['/l'], upperdir: '/d/containers/abc/upper', workdir: '/d/containers/abc/work' });
    const host = configJson({ id: 'abc', spec: { ...base, networkNamespace: { mode: 'host' } }, paths, lowerdirs: ['/l'], seccompPath: null, caps: [], noNewPrivileges: false }) as any;
    assert.ok(!host.linux.namespaces.some((n: any) => n.type === 'network'));
    const join = configJson({ id: 'abc', spec: { ...base, networkNamespace: { mode: 'join', path: '/proc/1/ns/net' } }, paths, lowerdirs: ['/l'], seccompPath: null, caps: [], noNewPrivileges: false }) as any;
    assert.ok(join.linux.namespaces.some((n: any) => n.type === 'network' && n.path === '/proc/1/ns/net'));
  });

  it('hosts file and signals', () => {
    assert.match(hostsFile({ ...base, hostsEntries: [{ address: '10.0.0.2', hostnames: ['h', 'web'] }] }), /\n10\.0\.0\.2\th web\n$/);
    // as Docker: on the host's network, the host's file, then the extra hosts
    assert.equal(
      hostsFile({ ...base, networkNamespace: { mode: 'host' }, hostsEntries: [{ address: '10.0.0.3', hostnames: ['x'] }] }, '/proc/self/nonexistent'),
      '127.0.0.1\tlocalhost\n10.0.0.3\tx\n',
    );
    assert.equal(hostsFile({ ...base, networkNamespace: { mode: 'host' } }), readFileSync('/etc/hosts', 'utf8').replace(/([^\n])$/, '$1\n'));
    assert.equal(signalNumber('SIGKILL'), 9);
    assert.equal(signalNumber('term'), 15);
    assert.equal(signalNumber('10'), 10);
    assert.equal(signalNumber(undefined), 15);
    assert.throws(() => signalNumber('NOPE'), /Invalid signal/);
  });

  it('state dirs keep unix socket paths under 108 bytes', () => {
    const p = containerPaths('/var/lib/berth-with-a-rather-long-data-root-path-here', '/run/berth-with-a-rather-long-exec-root-path-here', 'a'.repeat(64));
    assert.ok(p.stateDir.startsWith('/run/berth-with-a-rather-long-exec-root-path-here/s/'));
    assert.ok(Buffer.byteLength(p.exec('b'.repeat(64)).attachSocket) < 108);
  });
});
