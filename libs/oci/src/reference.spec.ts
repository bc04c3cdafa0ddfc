import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError, ErrorCode } from '@berth/contracts';
import {
  isInsecureRegistry,
  normalizeServerAddress,
  parseReference,
  parseReferenceWithDefaultTag,
  registryEndpoints,
  withTag,
} from './reference';

const D = 'sha256:' + 'a'.repeat(64);

const valid: Array<[string, { domain: string; path: string; tag?: string; digest?: string; familiar: string; canonical: string }]> = [
  ['busybox', { domain: 'docker.io', path: 'library/busybox', familiar: 'busybox', canonical: 'docker.io/library/busybox' }],
  ['busybox:1.36', { domain: 'docker.io', path: 'library/busybox', tag: '1.36', familiar: 'busybox:1.36', canonical: 'docker.io/library/busybox:1.36' }],
  ['library/busybox', { domain: 'docker.io', path: 'library/busybox', familiar: 'busybox', canonical: 'docker.io/library/busybox' }],
  ['docker.io/busybox', { domain: 'docker.io', path: 'library/busybox', familiar: 'busybox', canonical: 'docker.io/library/busybox' }],
  ['index.docker.io/busybox', { domain: 'docker.io', path: 'library/busybox', familiar: 'busybox', canonical: 'docker.io/library/busybox' }],
  ['docker.io/library/busybox:latest', { domain: 'docker.io', path: 'library/busybox', tag: 'latest', familiar: 'busybox:latest', canonical: 'docker.io/library/busybox:latest' }],
  ['user/app', { domain: 'docker.io', path: 'user/app', familiar: 'user/app', canonical: 'docker.io/user/app' }],
  ['library/a/b', { domain: 'docker.io', path: 'library/a/b', familiar: 'library/a/b', canonical: 'docker.io/library/a/b' }],
  ['localhost/x', { domain: 'localhost', path: 'x', familiar: 'localhost/x', canonical: 'localhost/x' }],
  ['localhost:5000/x', { domain: 'localhost:5000', path: 'x', familiar: 'localhost:5000/x', canonical: 'localhost:5000/x' }],
  ['localhost:5000/a/b:v1', { domain: 'localhost:5000', path: 'a/b', tag: 'v1', familiar: 'localhost:5000/a/b:v1', canonical: 'localhost:5000/a/b:v1' }],
  ['127.0.0.1:5000/x', { domain: '127.0.0.1:5000', path: 'x', familiar: '127.0.0.1:5000/x', canonical: '127.0.0.1:5000/x' }],
  ['[::1]:5000/x', { domain: '[::1]:5000', path: 'x', familiar: '[::1]:5000/x', canonical: '[::1]:5000/x' }],
  ['ghcr.io/owner/repo:tag', { domain: 'ghcr.io', path: 'owner/repo', tag: 'tag', familiar: 'ghcr.io/owner/repo:tag', canonical: 'ghcr.io/owner/repo:tag' }],
  ['Foo.io/bar', { domain: 'Foo.io', path: 'bar', familiar: 'Foo.io/bar', canonical: 'Foo.io/bar' }],
  ['Foo/bar', { domain: 'Foo', path: 'bar', familiar: 'Foo/bar', canonical: 'Foo/bar' }],
  ['myhost:1/x', { domain: 'myhost:1', path: 'x', familiar: 'myhost:1/x', canonical: 'myhost:1/x' }],
  ['a.b-c_d__e/f', { domain: 'a.b-c_d__e', path: 'f', familiar: 'a.b-c_d__e/f', canonical: 'a.b-c_d__e/f' }],
  ['foo_bar/b--c.d', { domain: 'docker.io', path: 'foo_bar/b--c.d', familiar: 'foo_bar/b--c.d', canonical: 'docker.io/foo_bar/b--c.d' }],
  [`busybox@${D}`, { domain: 'docker.io', path: 'library/busybox', digest: D, familiar: `busybox@${D}`, canonical: `docker.io/library/busybox@${D}` }],
  [`busybox:1@${D}`, { domain: 'docker.io', path: 'library/busybox', tag: '1', digest: D, familiar: `busybox:1@${D}`, canonical: `docker.io/library/busybox:1@${D}` }],
  ['busybox:Upper_Case.-1', { domain: 'docker.io', path: 'library/busybox', tag: 'Upper_Case.-1', familiar: 'busybox:Upper_Case.-1', canonical: 'docker.io/library/busybox:Upper_Case.-1' }],
  ['docker.io', { domain: 'docker.io', path: 'library/docker.io', familiar: 'docker.io', canonical: 'docker.io/library/docker.io' }],
];

for (const [input, want] of valid) {
  test(`parses ${input}`, () => {
    const r = parseReference(input);
    assert.equal(r.domain, want.domain);
    assert.equal(r.path, want.path);
    assert.equal(r.tag, want.tag);
    assert.equal(r.digest, want.digest);
    assert.equal(r.familiar, want.familiar);
    assert.equal(r.canonical, want.canonical);
  });
}

const invalidCases: Array<[string, string]> = [
  ['', 'invalid reference format'],
  ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
  ['user/App', 'invalid reference format: repository name (user/App) must be lowercase'],
  ['localhost:5000/Foo:tag', 'invalid reference format: repository name (Foo) must be lowercase'],
  ['busybox:', 'invalid reference format'],
  [':tag', 'invalid reference format'],
  ['busybox:-tag', 'invalid reference format'],
  ['busybox:' + 'a'.repeat(129), 'invalid reference format'],
  ['-busybox', 'invalid reference format'],
  ['busybox-', 'invalid reference format'],
  ['bu..sybox', 'invalid reference format'],
  ['bu___sybox', 'invalid reference format'],
  ['a//b', 'invalid reference format'],
  ['a/b/', 'invalid reference format'],
  ['busybox@sha256:abc', 'invalid reference format'],
  ['busybox@sha256:' + 'a'.repeat(63), 'invalid checksum digest length'],
  ['busybox@sha256:' + 'A'.repeat(64), 'invalid checksum digest format'],
  ['busybox@md5:' + 'a'.repeat(32), 'unsupported digest algorithm'],
  ['a'.repeat(64), `invalid repository name (${'a'.repeat(64)}), cannot specify 64-byte hexadecimal strings`],
  ['localhost:port/x', 'invalid reference format'],
  ['host:5000/x y', 'invalid reference format'],
  ['x/' + 'a'.repeat(260), 'repository name must not be more than 255 characters'],
  ['busybox latest', 'invalid reference format'],
];

for (const [input, message] of invalidCases) {
  test(`refuses ${JSON.stringify(input.length > 40 ? input.slice(0, 40) + '…' : input)}`, () => {
    assert.throws(
      () => parseReference(input),
      (e: unknown) => e instanceof DomainError && e.code === ErrorCode.InvalidArgument && e.message === message,
    );
  });
}

test('default tag only without tag and digest', () => {
  assert.equal(parseReferenceWithDefaultTag('busybox').canonical, 'docker.io/library/busybox:latest');
  assert.equal(parseReferenceWithDefaultTag(`busybox@${D}`).canonical, `docker.io/library/busybox@${D}`);
  assert.equal(withTag(parseReference('busybox:1'), 'x').familiar, 'busybox:x');
});

test('insecure decision', () => {
  assert.equal(isInsecureRegistry('docker.io'), false);
  assert.equal(isInsecureRegistry('localhost:5000'), true);
  assert.equal(isInsecureRegistry('127.0.0.1:5000'), true);
  assert.equal(isInsecureRegistry('127.8.9.10'), true);
  assert.equal(isInsecureRegistry('[::1]:5000'), true);
  assert.equal(isInsecureRegistry('10.1.2.3:5000'), false);
  assert.equal(isInsecureRegistry('10.1.2.3:5000', { insecureRegistries: ['10.0.0.0/8'] }), true);
  assert.equal(isInsecureRegistry('[fd00::5]:5000', { insecureRegistries: ['fd00::/8'] }), true);
  assert.equal(isInsecureRegistry('[fe80::5]:5000', { insecureRegistries: ['fd00::/8'] }), false);
  assert.equal(isInsecureRegistry('reg.local:5000', { insecureRegistries: ['reg.local:5000'] }), true);
  assert.equal(isInsecureRegistry('reg.local:5001', { insecureRegistries: ['reg.local:5000'] }), false);
  assert.equal(isInsecureRegistry('reg.local', { insecureRegistries: ['http://reg.local'] }), true);
  assert.equal(isInsecureRegistry('ghcr.io'), false);
});

test('endpoints: docker.io goes to registry-1 after mirrors', () => {
  assert.deepEqual(registryEndpoints('docker.io', { mirrors: ['http://10.0.0.1:5000'] }), [
    { host: '10.0.0.1:5000', insecure: true, mirror: true },
    { host: 'registry-1.docker.io', insecure: false, mirror: false },
  ]);
  assert.deepEqual(registryEndpoints('ghcr.io', { mirrors: ['https://m.example'] }), [{ host: 'ghcr.io', insecure: false, mirror: false }]);
  assert.deepEqual(registryEndpoints('localhost:5000'), [{ host: 'localhost:5000', insecure: true, mirror: false }]);
});

test('server address normalization', () => {
  assert.equal(normalizeServerAddress('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeServerAddress(''), 'docker.io');
  assert.equal(normalizeServerAddress('localhost:5000'), 'localhost:5000');
  assert.equal(normalizeServerAddress('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
});
