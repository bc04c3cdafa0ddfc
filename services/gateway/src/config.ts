import { loadConfig, type BerthConfig } from '@berth/config';

/** The gateway's configuration, parsed once at boot (file + environment, see libs/config). */
let config: BerthConfig | undefined;
export function gatewayConfig(): BerthConfig {
  config ??= loadConfig();
  return config;
}

/** DI token for the resolved configuration (tests pass their own). */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
