import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger, NotFoundException } from '@nestjs/common';
import { DomainError } from '@berth/contracts';
import type { ServerResponse } from 'node:http';
import { statusForCode } from './error-status';
import { sendDockerError } from './send-error';

/**
 * Every error leaves as `{"message": "..."}` with Docker's status. Controllers throw DomainError only,
 * so a Nest NotFoundException can only be the router's "no such route" (dockerd: `page not found`).
 */
@Catch()
export class DockerExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    if (exception instanceof NotFoundException) {
      sendDockerError(res, 404, 'page not found');
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      sendDockerError(res, status, exception.message);
      return;
    }
    const error = DomainError.from(exception);
    const status = statusForCode(error.code);
    if (status === 500) this.logger.error(error.message, exception instanceof Error ? exception.stack : undefined);
    else if (status > 500) this.logger.warn(error.message);
    sendDockerError(res, status, error.message);
  }
}
