import { ErrorCode } from '@berth/contracts';

/** The one mapping from Berth's error codes to Docker's HTTP statuses. */
export function statusForCode(code: ErrorCode): number {
  switch (code) {
    case ErrorCode.InvalidArgument:
      return 400;
    case ErrorCode.Unauthorized:
      return 401;
    case ErrorCode.Forbidden:
      return 403;
    case ErrorCode.NotFound:
      return 404;
    case ErrorCode.Conflict:
      return 409;
    case ErrorCode.NotModified:
      return 304;
    case ErrorCode.Timeout:
    case ErrorCode.Unavailable:
      return 503;
    case ErrorCode.NotImplemented:
      return 501;
    case ErrorCode.Internal:
      return 500;
    default: {
      const unknownCode: never = code;
      void unknownCode;
      return 500;
    }
  }
}
