import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DockerEventRecord } from './docker-event';
import { familiarImageName, matchesEventFilters } from './event-filter';

const base = {
  eventId: 'e',
  timeNano: 1n,
  scope: 'local' as const,
  service: 's',
  position: '1',
};
const volumeCreate: DockerEventRecord = {
  ...base,
  type: 'volume',
  action: 'create',
  actorId: 'data',
  attributes: { driver: 'local' },
};
const containerStart: DockerEventRecord = {
  ...base,
  type: 'container',
  action: 'start',
  actorId: '3f2a9c',
  attributes: { image: 'docker.io/library/busybox:latest', name: 'web', 'com.example': 'yes' },
};

test('no filters admit everything', () => {
  assert.equal(matchesEventFilters(volumeCreate, {}), true);
});

test('type and event (action) match exactly', () => {
  assert.equal(matchesEventFilters(volumeCreate, { type: ['volume'] }), true);
  assert.equal(matchesEventFilters(volumeCreate, { type: ['container'] }), false);
  assert.equal(matchesEventFilters(volumeCreate, { event: ['create', 'destroy'] }), true);
  assert.equal(matchesEventFilters(volumeCreate, { event: ['destroy'] }), false);
  assert.equal(matchesEventFilters(volumeCreate, { type: [] }), true);
});

test('object filters match the actor id or its name, by prefix', () => {
  assert.equal(matchesEventFilters(volumeCreate, { volume: ['data'] }), true);
  assert.equal(matchesEventFilters(volumeCreate, { volume: ['da'] }), true);
  assert.equal(matchesEventFilters(volumeCreate, { volume: ['other'] }), false);
  assert.equal(matchesEventFilters(containerStart, { container: ['web'] }), true);
  assert.equal(matchesEventFilters(containerStart, { container: ['3f2a'] }), true);
  // as in dockerd, a container filter excludes events of other objects
  assert.equal(matchesEventFilters(volumeCreate, { container: ['web'] }), false);
});

test('image filter matches the image attribute, tagged or familiar', () => {
  assert.equal(matchesEventFilters(containerStart, { image: ['busybox'] }), true);
  assert.equal(matchesEventFilters(containerStart, { image: ['docker.io/library/busybox:latest'] }), true);
  assert.equal(matchesEventFilters(containerStart, { image: ['alpine'] }), false);
  assert.equal(familiarImageName('registry:5000/team/app:1'), 'registry:5000/team/app');
});

test('labels: key or key=value, all must hold', () => {
  assert.equal(matchesEventFilters(containerStart, { label: ['com.example'] }), true);
  assert.equal(matchesEventFilters(containerStart, { label: ['com.example=yes'] }), true);
  assert.equal(matchesEventFilters(containerStart, { label: ['com.example=no'] }), false);
  assert.equal(matchesEventFilters(containerStart, { label: ['com.example', 'missing'] }), false);
});

test('scope and daemon', () => {
  assert.equal(matchesEventFilters(volumeCreate, { scope: ['local'] }), true);
  assert.equal(matchesEventFilters(volumeCreate, { scope: ['swarm'] }), false);
  assert.equal(matchesEventFilters(volumeCreate, { daemon: ['someid'] }), false);
});
