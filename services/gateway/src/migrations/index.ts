import { CreateDockerEvents1732400000000 } from './1732400000000-create-docker-events';

/** Every migration of the `gateway` schema, oldest first. */
export const GATEWAY_MIGRATIONS = [CreateDockerEvents1732400000000];
