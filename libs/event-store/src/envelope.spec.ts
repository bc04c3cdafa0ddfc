import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkpointOf, type EventRow, toEnvelope } from './envelope';

const row: EventRow = {
  position: '42',
  event_id: '6b7f3c2e-7a1d-4c55-9a0e-0b8a3f9d2c11',
  stream_id: 'volume:data',
  version: 3,
  type: 'VolumeCreated',
  schema_version: 1,
  data: { name: 'data' },
  actor: null,
  occurred_at: '2025-01-02T03:04:05.123456Z',
  occurred_at_us: '1735787045123456',
  transaction_id: '9007199254740993',
};

describe('toEnvelope', () => {
  it('maps a row to the wire envelope, with nanoseconds from microseconds', () => {
    assert.deepEqual(toEnvelope('volumes', row), {
      eventId: row.event_id,
      service: 'volumes',
      streamId: 'volume:data',
      version: 3,
      position: '42',
      type: 'VolumeCreated',
      data: { name: 'data' },
      schemaVersion: 1,
      actor: null,
      occurredAt: '2025-01-02T03:04:05.123456Z',
      occurredAtNano: '1735787045123456000',
    });
  });

  it('keeps 64-bit transaction ids exact in checkpoints', () => {
    assert.deepEqual(checkpointOf(row), { transactionId: '9007199254740993', position: '42' });
  });
});
