// Public surface of libs/ring: the single-producer/single-consumer shared-memory packet ring that hands
// packets between the worker threads of one node.
export { RingError, RingErrorCode } from './errors.js';
export {
  createRingMemory,
  Doorbell,
  RING_BYTES_MAX,
  RING_BYTES_MIN,
  RING_PACKET_BYTES_MAX,
  RING_POLL_PACKETS_MAX,
  RING_WORD_COPY_BYTES_MAX,
  RingBatch,
  RingConsumer,
  type RingMemory,
  RingProducer,
  type RingStats,
  readRingStats,
} from './ring.js';
