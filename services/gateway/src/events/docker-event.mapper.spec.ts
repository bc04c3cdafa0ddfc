import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventEnvelope } from '@berth/contracts';
import { toDockerEvent } from './docker-event.mapper';
import { encodeEventLine, toEventMessage } from './event-message.encoder';

const envelope = (type: string, data: unknown, extra: Partial<EventEnvelope> = {}): EventEnvelope => ({
  eventId: '6f1c3c1e-5a43-4c55-9a1e-0c1b6d1e2f3a',
  service: 'volumes',
  streamId: 'volume:data',
  version: 1,
  position: '42',
  type,
  data,
  schemaVersion: 1,
  actor: null,
  occurredAt: '2023-11-14T22:13:20.123456Z',
  occurredAtNano: '1700000000123456789',
  ...extra,
});

test('VolumeCreated is a volume create with the driver', () => {
  const event = toDockerEvent(
    envelope('VolumeCreated', { name: 'data', driver: 'local', mountpoint: '/v', labels: {}, options: {}, anonymous: false }),
  );
  assert.deepEqual(event, {
    eventId: '6f1c3c1e-5a43-4c55-9a1e-0c1b6d1e2f3a',
    timeNano: 1_700_000_000_123_456_789n,
    type: 'volume',
    action: 'create',
    actorId: 'data',
    attributes: { driver: 'local' },
    scope: 'local',
    service: 'volumes',
    position: '42',
  });
});

test('VolumeRemoved is a volume destroy', () => {
  const event = toDockerEvent(envelope('VolumeRemoved', { name: 'data' }));
  assert.equal(event?.type, 'volume');
  assert.equal(event?.action, 'destroy');
  assert.equal(event?.actorId, 'data');
});

test('events Docker has no word for are not Docker events', () => {
  assert.equal(toDockerEvent(envelope('VolumeDirectoryPrepared', { name: 'x' })), null);
});

test('time falls back to occurredAt when the nanosecond string is missing', () => {
  const event = toDockerEvent(envelope('VolumeRemoved', { name: 'x' }, { occurredAtNano: '' }));
  assert.equal(event?.timeNano, 1_700_000_000_123_000_000n);
});

test('encoded line: Docker shape, exact timeNano, newline-terminated', () => {
  const event = toDockerEvent(envelope('VolumeRemoved', { name: 'data' }))!;
  const line = encodeEventLine(event);
  assert.equal(
    line,
    '{"Type":"volume","Action":"destroy","Actor":{"ID":"data","Attributes":{"driver":"local"}},"scope":"local","time":1700000000,"timeNano":1700000000123456789}\n',
  );
});

test('container and image events carry the legacy status/id/from', () => {
  const message = toEventMessage({
    eventId: 'e',
    timeNano: 1_700_000_000_000_000_000n,
    type: 'container',
    action: 'start',
    actorId: 'abc',
    attributes: { image: 'busybox', name: 'c1' },
    scope: 'local',
    service: 'containers',
    position: '1',
  });
  assert.equal(message.status, 'start');
  assert.equal(message.id, 'abc');
  assert.equal(message.from, 'busybox');
});
