import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestException, NotFoundException } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { DomainError, ErrorCode } from '@berth/contracts';
import { parseRequest, serviceOfPattern, toSerializedError } from './rpc-protocol';

describe('rpc protocol', () => {
  it('maps failures to wire errors', () => {
    assert.deepEqual(toSerializedError(new DomainError(ErrorCode.Conflict, 'in use')), { code: ErrorCode.Conflict, message: 'in use' });
    assert.deepEqual(toSerializedError(new RpcException({ code: ErrorCode.NotFound, message: 'gone' })), {
      code: ErrorCode.NotFound,
      message: 'gone',
    });
    assert.deepEqual(toSerializedError(new BadRequestException(['name must be a string', 'x'])), {
      code: ErrorCode.InvalidArgument,
      message: 'name must be a string; x',
    });
    assert.equal(toSerializedError(new NotFoundException('nope')).code, ErrorCode.NotFound);
    assert.deepEqual(toSerializedError(new TypeError('boom')), { code: ErrorCode.Internal, message: 'boom' });
    assert.deepEqual(toSerializedError({ status: 'error', message: 'Internal server error' }), {
      code: ErrorCode.Internal,
      message: 'Internal server error',
    });
    assert.deepEqual(toSerializedError(42), { code: ErrorCode.Internal, message: 'unknown error' });
  });

  it('rejects malformed requests instead of throwing', () => {
    for (const raw of ['', 'nul', 'null', '[]', '{"pattern":1}', '{"pattern":"a.b","id":"x"}', '{"pattern":"a.b","deadline":"soon"}']) {
      assert.equal(parseRequest(raw), null, raw);
    }
    assert.deepEqual(parseRequest('{"pattern":"a.b","data":1}'), { pattern: 'a.b', data: 1 });
    assert.equal(serviceOfPattern('volumes.create'), 'volumes');
  });
});
