import { DomainError, invalid } from '@berth/contracts';
import type { ServerResponse } from 'node:http';
import type { DockerRequest } from './docker-request';
import { sendDockerError } from './send-error';

const JSON_TYPE = /^application\/(.+\+)?json\s*(;|$)/i;
const LIMIT = 16 * 1024 * 1024;

/**
 * Reads and parses `application/json` bodies (other bodies, tar archives for instance, stay unread on
 * the request for their handlers). A malformed body is a 400 in dockerd's words, answered here.
 */
export function jsonBodyMiddleware() {
  return (req: DockerRequest, res: ServerResponse, next: () => void): void => {
    const type = req.headers['content-type'] ?? '';
    if (!JSON_TYPE.test(type) || req.method === 'GET' || req.method === 'HEAD') {
      next();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > LIMIT && !failed) {
        failed = true;
        sendDockerError(res, 413, 'request body too large');
        req.resume();
      } else if (!failed) chunks.push(chunk);
    });
    req.on('error', () => {
      failed = true;
    });
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') {
        req.body = undefined;
        next();
        return;
      }
      try {
        req.body = parseJsonBody(text);
      } catch (e) {
        sendDockerError(res, 400, (e as DomainError).message);
        return;
      }
      next();
    });
  };
}

/** JSON.parse with Go's wording for the common failures (`invalid JSON: invalid character 'x' ...`). */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalid(`invalid JSON: ${goJsonError(text, (e as Error).message)}`);
  }
}

function goJsonError(text: string, message: string): string {
  const at = /position (\d+)/.exec(message);
  const token = /Unexpected token '?(.)'?/.exec(message);
  const position = at ? Number(at[1]) : token ? text.indexOf(token[1]) : -1;
  if (/Unexpected end of JSON input/.test(message) || position >= text.length) return 'unexpected EOF';
  if (position < 0) return message;
  const char = text[position];
  if (/Unexpected non-whitespace character after JSON/.test(message)) {
    return `invalid character '${char}' after top-level value`;
  }
  if (/Expected property name/.test(message)) return `invalid character '${char}' looking for beginning of object key string`;
  if (/Expected ',' or '}'/.test(message)) return `invalid character '${char}' after object key:value pair`;
  if (/Expected ',' or ']'/.test(message)) return `invalid character '${char}' after array element`;
  if (/Expected ':'/.test(message)) return `invalid character '${char}' after object key`;
  return `invalid character '${char}' looking for beginning of value`;
}
