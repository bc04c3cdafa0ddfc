import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '@berth/contracts';
import { decodeRegistryAuthHeader, encodeRegistryAuthHeader, parseChallenges } from './auth';

test('X-Registry-Auth: anonymous forms', () => {
  assert.deepEqual(decodeRegistryAuthHeader(undefined), {});
  assert.deepEqual(decodeRegistryAuthHeader(''), {});
  assert.deepEqual(decodeRegistryAuthHeader('e30='), {});
  assert.deepEqual(decodeRegistryAuthHeader('e30'), {});
});

test('X-Registry-Auth: base64url and standard base64, tokens, legacy auth field', () => {
  const cfg = { username: 'u', password: 'p?>>~', serveraddress: 'localhost:5000' };
  const url = encodeRegistryAuthHeader(cfg);
  assert.deepEqual(decodeRegistryAuthHeader(url), { username: 'u', password: 'p?>>~', serverAddress: 'localhost:5000' });
  const std = Buffer.from(JSON.stringify(cfg)).toString('base64');
  assert.deepEqual(decodeRegistryAuthHeader(std), { username: 'u', password: 'p?>>~', serverAddress: 'localhost:5000' });
  assert.deepEqual(decodeRegistryAuthHeader(encodeRegistryAuthHeader({ identitytoken: 'r', registrytoken: 't' })), { identityToken: 'r', registryToken: 't' });
  assert.deepEqual(decodeRegistryAuthHeader(encodeRegistryAuthHeader({ auth: Buffer.from('a:b:c').toString('base64') })), { username: 'a', password: 'b:c' });
  assert.throws(() => decodeRegistryAuthHeader('!!!'), (e: DomainError) => /invalid X-Registry-Auth header/.test(e.message));
  assert.throws(() => decodeRegistryAuthHeader(Buffer.from('[1]').toString('base64')), DomainError);
});

test('WWW-Authenticate parsing', () => {
  assert.deepEqual(
    parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:samalba/my-app:pull,push"'),
    [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:samalba/my-app:pull,push' } }],
  );
  assert.deepEqual(parseChallenges('Basic realm="test"'), [{ scheme: 'basic', params: { realm: 'test' } }]);
  assert.deepEqual(parseChallenges(['Basic realm=x', 'Bearer realm="a\\"b", error="invalid_token"']), [
    { scheme: 'basic', params: { realm: 'x' } },
    { scheme: 'bearer', params: { realm: 'a"b', error: 'invalid_token' } },
  ]);
  assert.deepEqual(parseChallenges(undefined), []);
});
