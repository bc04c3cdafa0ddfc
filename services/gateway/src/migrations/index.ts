import { CreateDockerEvents1732400000000 } from './1732400000000-create-docker-events';
import { CreateContainerAttributes1732400000001 } from './1732400000001-container-attributes';

/** Every migration of the `gateway` schema, oldest first. */
export const GATEWAY_MIGRATIONS = [CreateDockerEvents1732400000000, CreateContainerAttributes1732400000001];
