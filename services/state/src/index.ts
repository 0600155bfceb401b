// Public surface of services/state: event logs (embedded file now, JetStream later), batching.
export { type BatcherOptions, EventBatcher } from './batcher.js';
export * from './compliance/index.js';
export { EmbeddedEventLog, type EmbeddedLogOpenReport } from './embedded-log.js';
export { StateError, type StateErrorCode } from './errors.js';
export type { EventBatch, EventLog } from './event-log.js';
