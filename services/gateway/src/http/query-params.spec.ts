import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBool, parseFilters, validateFilterKeys } from './query-params';
import { parseJsonBody } from './json-body.middleware';
import { statusForCode } from './error-status';
import { ErrorCode } from '@berth/contracts';

test('filters: map form keeps the values set to true', () => {
  assert.deepEqual(parseFilters('{"type":{"volume":true,"container":false},"label":{"a=b":true}}'), {
    type: ['volume'],
    label: ['a=b'],
  });
});

test('filters: legacy list form', () => {
  assert.deepEqual(parseFilters('{"type":["volume","image"]}'), { type: ['volume', 'image'] });
});

test('filters: absent, empty and null mean none', () => {
  assert.deepEqual(parseFilters(undefined), {});
  assert.deepEqual(parseFilters(''), {});
  assert.deepEqual(parseFilters('null'), {});
  assert.deepEqual(parseFilters('{}'), {});
});

test('filters: malformed is a 400 "invalid filter"', () => {
  assert.throws(() => parseFilters('{type'), /invalid filter/);
  assert.throws(() => parseFilters('["a"]'), /invalid filter/);
  assert.throws(() => parseFilters('{"type":"volume"}'), /invalid filter/);
  assert.throws(() => validateFilterKeys({ nope: [] }, ['name']), /invalid filter 'nope'/);
});

test('booleans follow moby BoolValue', () => {
  for (const v of ['1', 'true', 'True', 'yes', 'x']) assert.equal(parseBool(v), true, v);
  for (const v of ['', '0', 'no', 'false', 'False', 'none']) assert.equal(parseBool(v), false, v);
  assert.equal(parseBool(undefined), false);
  assert.equal(parseBool(undefined, true), true);
  assert.equal(parseBool(['0', '1']), true);
});

test('malformed JSON bodies get Go-style messages', () => {
  assert.throws(() => parseJsonBody('{bad'), {
    message: "invalid JSON: invalid character 'b' looking for beginning of object key string",
  });
  assert.throws(() => parseJsonBody('xyz'), { message: "invalid JSON: invalid character 'x' looking for beginning of value" });
  assert.throws(() => parseJsonBody('{"a":1'), { message: /^invalid JSON: / });
  assert.deepEqual(parseJsonBody('{"Name":"x"}'), { Name: 'x' });
});

test('error codes map to Docker statuses', () => {
  assert.equal(statusForCode(ErrorCode.InvalidArgument), 400);
  assert.equal(statusForCode(ErrorCode.Unauthorized), 401);
  assert.equal(statusForCode(ErrorCode.Forbidden), 403);
  assert.equal(statusForCode(ErrorCode.NotFound), 404);
  assert.equal(statusForCode(ErrorCode.Conflict), 409);
  assert.equal(statusForCode(ErrorCode.NotModified), 304);
  assert.equal(statusForCode(ErrorCode.Timeout), 503);
  assert.equal(statusForCode(ErrorCode.Unavailable), 503);
  assert.equal(statusForCode(ErrorCode.NotImplemented), 501);
  assert.equal(statusForCode(ErrorCode.Internal), 500);
});
