import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError, ErrorCode } from '@berth/contracts';
import { API_VERSION, compareApiVersions, resolveApiVersion } from './api-version';

test('unversioned paths speak the current version', () => {
  assert.deepEqual(resolveApiVersion('/containers/json?all=1'), { version: API_VERSION, url: '/containers/json?all=1' });
  assert.deepEqual(resolveApiVersion('/_ping'), { version: '1.50', url: '/_ping' });
});

test('the /vX.Y prefix is stripped and remembered', () => {
  assert.deepEqual(resolveApiVersion('/v1.44/containers/json?all=1'), { version: '1.44', url: '/containers/json?all=1' });
  assert.deepEqual(resolveApiVersion('/v1.24/_ping'), { version: '1.24', url: '/_ping' });
  assert.deepEqual(resolveApiVersion('/v1.50/version'), { version: '1.50', url: '/version' });
  assert.deepEqual(resolveApiVersion('/v1.41?x=1'), { version: '1.41', url: '/?x=1' });
});

test('paths that merely start with v are not versions', () => {
  assert.deepEqual(resolveApiVersion('/volumes/x'), { version: API_VERSION, url: '/volumes/x' });
  assert.deepEqual(resolveApiVersion('/v1x/version'), { version: API_VERSION, url: '/v1x/version' });
});

test('too new and too old are refused with dockerd wording', () => {
  assert.throws(
    () => resolveApiVersion('/v1.51/version'),
    (e: unknown) =>
      e instanceof DomainError &&
      e.code === ErrorCode.InvalidArgument &&
      e.message === 'client version 1.51 is too new. Maximum supported API version is 1.50',
  );
  assert.throws(
    () => resolveApiVersion('/v1.23/info'),
    (e: unknown) =>
      e instanceof DomainError &&
      e.message ===
        'client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version',
  );
  assert.throws(() => resolveApiVersion('/v2/info'), /too new/);
});

test('versions compare numerically per part', () => {
  assert.equal(compareApiVersions('1.9', '1.10'), -1);
  assert.equal(compareApiVersions('1.50', '1.50'), 0);
  assert.equal(compareApiVersions('1.50.1', '1.50'), 1);
});
