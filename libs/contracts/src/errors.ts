/**
 * One error type crosses every boundary (service -> Redis -> gateway). The gateway maps the code to
 * Docker's HTTP status in exactly one place (its exception filter).
 */
export enum ErrorCode {
  InvalidArgument = 'INVALID_ARGUMENT', // 400
  Unauthorized = 'UNAUTHORIZED', // 401
  Forbidden = 'FORBIDDEN', // 403
  NotFound = 'NOT_FOUND', // 404
  Conflict = 'CONFLICT', // 409
  NotModified = 'NOT_MODIFIED', // 304
  Timeout = 'TIMEOUT', // 503: a service did not answer in time
  Unavailable = 'UNAVAILABLE', // 503
  NotImplemented = 'NOT_IMPLEMENTED', // 501
  Internal = 'INTERNAL', // 500
}

export interface SerializedError {
  readonly code: ErrorCode;
  readonly message: string;
}

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message };
  }

  static isSerialized(value: unknown): value is SerializedError {
    return (
      typeof value === 'object' &&
      value !== null &&
      typeof (value as SerializedError).code === 'string' &&
      Object.values(ErrorCode).includes((value as SerializedError).code) &&
      typeof (value as SerializedError).message === 'string'
    );
  }

  static from(value: unknown): DomainError {
    if (value instanceof DomainError) return value;
    if (DomainError.isSerialized(value)) return new DomainError(value.code, value.message);
    const message = value instanceof Error ? value.message : String(value);
    return new DomainError(ErrorCode.Internal, message);
  }
}

export const notFound = (message: string) => new DomainError(ErrorCode.NotFound, message);
export const conflict = (message: string) => new DomainError(ErrorCode.Conflict, message);
export const invalid = (message: string) => new DomainError(ErrorCode.InvalidArgument, message);
