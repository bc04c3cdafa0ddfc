import { loadConfig, type BerthConfig } from '@berth/config';

/** Parsed once at boot; the only place the executor reads the environment. */
export const config: BerthConfig = loadConfig();
