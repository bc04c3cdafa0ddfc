/**
 * Registry credentials as Docker carries them (X-Registry-Auth, POST /auth body) and the
 * WWW-Authenticate challenge grammar (RFC 7235 auth-params, as distribution's challenge parser reads it).
 */
import { DomainError, ErrorCode } from '@berth/contracts';

export interface RegistryCredentials {
  username?: string;
  password?: string;
  /** A refresh token from an earlier login (OAuth2 refresh_token grant at the token endpoint). */
  identityToken?: string;
  /** A bearer token to send as is (no token endpoint round trip). */
  registryToken?: string;
  serverAddress?: string;
}

export const ANONYMOUS: RegistryCredentials = Object.freeze({});

export const hasCredentials = (c: RegistryCredentials | undefined): boolean =>
  !!c && !!(c.username || c.password || c.identityToken || c.registryToken);

/** Docker's AuthConfig JSON (lowercase keys on the wire). */
export interface DockerAuthConfig {
  username?: string;
  password?: string;
  auth?: string;
  email?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** Maps Docker's AuthConfig (POST /auth body, decoded X-Registry-Auth) to credentials. */
export function credentialsFromAuthConfig(cfg: DockerAuthConfig): RegistryCredentials {
  let { username, password } = cfg;
  if (!username && !password && cfg.auth) {
    const plain = Buffer.from(cfg.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) {
      username = plain.slice(0, i);
      password = plain.slice(i + 1);
    }
  }
  const out: RegistryCredentials = {};
  if (username) out.username = username;
  if (password) out.password = password;
  if (cfg.identitytoken) out.identityToken = cfg.identitytoken;
  if (cfg.registrytoken) out.registryToken = cfg.registrytoken;
  if (cfg.serveraddress) out.serverAddress = cfg.serveraddress;
  return out;
}

/**
 * Decodes the X-Registry-Auth header: base64url (padding optional; standard base64 accepted too) of
 * the AuthConfig JSON. Missing, empty or `e30=` (`{}`) means anonymous.
 */
export function decodeRegistryAuthHeader(header: string | string[] | undefined): RegistryCredentials {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !value.trim()) return ANONYMOUS;
  const b64 = value.trim().replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*=*$/.test(b64)) {
    throw new DomainError(ErrorCode.InvalidArgument, 'invalid X-Registry-Auth header: illegal base64 data');
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  } catch (e) {
    throw new DomainError(ErrorCode.InvalidArgument, `invalid X-Registry-Auth header: ${(e as Error).message}`);
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
    throw new DomainError(ErrorCode.InvalidArgument, 'invalid X-Registry-Auth header: not an object');
  }
  return credentialsFromAuthConfig(cfg as DockerAuthConfig);
}

/** The inverse, for clients and tests. */
export function encodeRegistryAuthHeader(cfg: DockerAuthConfig): string {
  return Buffer.from(JSON.stringify(cfg)).toString('base64url');
}

export interface Challenge {
  scheme: string; // lowercased: 'bearer' | 'basic' | ...
  params: Record<string, string>;
}

/** Parses one or more challenges from WWW-Authenticate header values. */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const v of values) {
    let s = v;
    let current: Challenge | undefined;
    while (s.length) {
      s = s.replace(/^[\s,]+/, '');
      if (!s) break;
      // auth-param: token = (token | quoted-string)
      const param = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,]*)/.exec(s);
      if (param && current) {
        const val = param[3] !== undefined ? param[3].replace(/\\(.)/g, '$1') : param[2];
        current.params[param[1].toLowerCase()] = val;
        s = s.slice(param[0].length);
        continue;
      }
      const scheme = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)/.exec(s);
      if (!scheme) break;
      current = { scheme: scheme[1].toLowerCase(), params: {} };
      out.push(current);
      s = s.slice(scheme[0].length);
    }
  }
  return out;
}

export const basicAuthorization = (username: string, password: string) =>
  'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
