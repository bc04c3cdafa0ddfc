/**
 * Request/reply over Redis, as both ends see it:
 *
 *   client                                 Redis                                    server (service S)
 *     | SUBSCRIBE <ns>:rpc:reply:<clientId>   |                                          |
 *     | LPUSH <ns>:rpc:S {id, pattern,        |                                          |
 *     |   data, replyTo, deadline}  --------> | list <ns>:rpc:S  <------ BRPOP ----------| (one instance wins)
 *     |                                       |                                          | handler(data)
 *     | <------------------------------------ | PUBLISH replyTo {id, response | err} <---|
 *
 * A list, not pub/sub, carries requests so exactly one instance of S takes each. An event (no id, no
 * replyTo) travels the same list and gets no reply. `deadline` is the client's clock in epoch ms: a
 * request nobody can still be waiting for is dropped unhandled.
 */
import { HttpException, HttpStatus } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { DomainError, ErrorCode, SerializedError, redisKey } from '@berth/contracts';

export interface RpcRequestMessage {
  readonly pattern: string;
  readonly data?: unknown;
  /** absent for events */
  readonly id?: string;
  /** full channel name; absent for events */
  readonly replyTo?: string;
  /** epoch ms */
  readonly deadline?: number;
}

export interface RpcReplyMessage {
  readonly id: string;
  readonly response?: unknown;
  readonly err?: SerializedError;
  readonly isDisposed: true;
}

export const rpcRequestKey = (namespace: string, service: string) => redisKey(namespace, 'rpc', service);
export const rpcReplyChannel = (namespace: string, clientId: string) =>
  redisKey(namespace, 'rpc', 'reply', clientId);

/** Pattern `<service>.<action>` routes to the list of `<service>`. */
export const serviceOfPattern = (pattern: string) => pattern.split('.', 1)[0];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const optional = (v: unknown, type: 'string' | 'number') => v === undefined || typeof v === type;

/** Returns null for anything that is not a well-formed request: the server must never throw on input. */
export function parseRequest(raw: string): RpcRequestMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value.pattern !== 'string') return null;
  if (!optional(value.id, 'string') || !optional(value.replyTo, 'string')) return null;
  if (!optional(value.deadline, 'number')) return null;
  if ((value.id === undefined) !== (value.replyTo === undefined)) return null;
  return value as unknown as RpcRequestMessage;
}

export function parseReply(raw: string): RpcReplyMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(value) || typeof value.id !== 'string') return null;
  return value as unknown as RpcReplyMessage;
}

/** Nest's own pipes and guards throw HttpExceptions (ValidationPipe: 400) even in a microservice. */
const HTTP_STATUS_CODES: Partial<Record<number, ErrorCode>> = {
  [HttpStatus.BAD_REQUEST]: ErrorCode.InvalidArgument,
  [HttpStatus.UNAUTHORIZED]: ErrorCode.Unauthorized,
  [HttpStatus.FORBIDDEN]: ErrorCode.Forbidden,
  [HttpStatus.NOT_FOUND]: ErrorCode.NotFound,
  [HttpStatus.CONFLICT]: ErrorCode.Conflict,
  [HttpStatus.NOT_IMPLEMENTED]: ErrorCode.NotImplemented,
  [HttpStatus.SERVICE_UNAVAILABLE]: ErrorCode.Unavailable,
};

function fromHttpException(err: HttpException): SerializedError {
  const body = err.getResponse();
  const detail = isObject(body) ? body.message : body;
  const message = Array.isArray(detail) ? detail.join('; ') : typeof detail === 'string' ? detail : err.message;
  return { code: HTTP_STATUS_CODES[err.getStatus()] ?? ErrorCode.Internal, message };
}

/**
 * What crosses the wire for a failure. DomainError (or its serialized form, or an RpcException carrying
 * one) keeps its code; an HttpException maps by status; anything else is INTERNAL with its message.
 */
export function toSerializedError(err: unknown): SerializedError {
  const inner = err instanceof RpcException ? err.getError() : err;
  if (DomainError.isSerialized(inner)) return { code: inner.code, message: inner.message };
  if (inner instanceof HttpException) return fromHttpException(inner);
  if (inner instanceof Error) return { code: ErrorCode.Internal, message: inner.message };
  if (isObject(inner) && typeof inner.message === 'string') {
    return { code: ErrorCode.Internal, message: inner.message };
  }
  if (typeof inner === 'string') return { code: ErrorCode.Internal, message: inner };
  return { code: ErrorCode.Internal, message: 'unknown error' };
}
