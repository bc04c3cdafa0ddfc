export { startStreamServer, StreamServer, berthArchivePath } from './stream-server';
export { containerChanges } from './changes';
