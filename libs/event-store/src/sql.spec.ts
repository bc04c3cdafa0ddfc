import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DomainError, ErrorCode } from '@berth/contracts';
import { assertSchemaName, eventsChannel, isUniqueViolation, qualified } from './sql';

describe('schema names', () => {
  it('accepts plain lower-case identifiers', () => {
    for (const s of ['volumes', 'images', '_x', 'a1_b2']) assert.equal(assertSchemaName(s), s);
    assert.equal(qualified('volumes', 'events'), '"volumes"."events"');
    assert.equal(eventsChannel('volumes'), 'volumes_events');
  });

  it('rejects anything that would need quoting or overflow the NOTIFY channel name', () => {
    for (const s of ['', 'Volumes', '1abc', 'a-b', 'a"b', 'x; DROP', 'a'.repeat(49)]) {
      assert.throws(
        () => assertSchemaName(s),
        (e: unknown) => e instanceof DomainError && e.code === ErrorCode.InvalidArgument,
        s,
      );
    }
  });
});

describe('isUniqueViolation', () => {
  it('matches the code and the constraint', () => {
    assert.equal(isUniqueViolation({ code: '23505', constraint: 'c' }, 'c'), true);
    assert.equal(isUniqueViolation({ code: '23505', constraint: 'other' }, 'c'), false);
    assert.equal(isUniqueViolation({ code: '40001', constraint: 'c' }, 'c'), false);
    assert.equal(isUniqueViolation(null, 'c'), false);
    assert.equal(isUniqueViolation(new Error('x'), 'c'), false);
  });
});
