export { startStreamServer, StreamServer, berthArchivePath, readFirstLine } from './stream-server';
export { containerChanges } from './changes';
