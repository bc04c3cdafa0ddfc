import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig, unixSockets } from './load';

const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, body: string) => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};
const fails = (env: NodeJS.ProcessEnv, message: RegExp) =>
  assert.throws(() => loadConfig(env), (e: Error) => e instanceof ConfigError && message.test(e.message));

describe('loadConfig', () => {
  it('defaults without a file', () => {
    const c = loadConfig({ BERTH_CONFIG: file('empty.json', '{}') });
    assert.equal(c['data-root'], '/var/lib/berth');
    assert.deepEqual(unixSockets(c), ['/run/berth/docker.sock']);
    assert.equal(c.namespace, 'berth');
    assert.equal(c.postgresConfigured, false);
    assert.equal(c.runDir, '/var/lib/berth/run');
  });

  it('reads daemon.json keys and Berth keys; the environment overrides the file', () => {
    const p = file('ok.json', JSON.stringify({ 'data-root': '/srv/b', 'log-level': 'debug', redis: 'redis://h:1/2', 'node-id': 'n1' }));
    const c = loadConfig({ BERTH_CONFIG: p, BERTH_DATA_ROOT: '/srv/override', BERTH_HOSTS: 'unix:///tmp/a.sock, unix:///tmp/b.sock' });
    assert.equal(c['data-root'], '/srv/override');
    assert.equal(c['log-level'], 'debug');
    assert.equal(c.redisUrl, 'redis://h:1/2');
    assert.equal(c.redisConfigured, true);
    assert.equal(c.nodeId, 'n1');
    assert.deepEqual(unixSockets(c), ['/tmp/a.sock', '/tmp/b.sock']);
  });

  it('an invalid file names the key', () => {
    fails({ BERTH_CONFIG: file('rel.json', '{"data-root":"relative"}') }, /"data-root": must be an absolute path/);
    fails({ BERTH_CONFIG: file('lvl.json', '{"log-level":"loud"}') }, /"log-level"/);
    fails({ BERTH_CONFIG: file('typo.json', '{"data_root":"/x"}') }, /unknown key\(s\) "data_root"/);
    fails({ BERTH_CONFIG: file('bad.json', '{nope') }, /not valid JSON/);
    fails({ BERTH_CONFIG: file('arr.json', '[]') }, /top level must be a JSON object/);
    fails({ BERTH_CONFIG: join(dir, 'missing.json') }, /cannot read configuration file/);
  });

  it('TCP without TLS refuses unless marked insecure', () => {
    const tcp = file('tcp.json', '{"hosts":["tcp://127.0.0.1:2375"]}');
    fails({ BERTH_CONFIG: tcp }, /listens on TCP without TLS/);
    assert.equal(loadConfig({ BERTH_CONFIG: tcp, BERTH_ALLOW_INSECURE_TCP: 'true' }).hosts[0], 'tcp://127.0.0.1:2375');
    fails({ BERTH_CONFIG: file('tls.json', '{"hosts":["tcp://127.0.0.1:2376"],"tlsverify":true}') }, /"tlscert" and "tlskey" are required/);
  });

  it('inline JSON (how berth up hands config to unprivileged services)', () => {
    const c = loadConfig({ BERTH_CONFIG_JSON: '{"namespace":"inl","data-root":"/d"}', BERTH_CONFIG: '/unreadable/berth.json' });
    assert.equal(c.namespace, 'inl');
    assert.equal(c.configFile, '/unreadable/berth.json');
    fails({ BERTH_CONFIG_JSON: '{"namespace":"Bad NS"}' }, /"namespace"/);
  });
});
