// Shared layout between the main thread (queues.ts) and a TUN queue worker (queue-worker.ts): the
// workerData shape, the control words and stats slots in SharedArrayBuffers, and the messages.

/** Int32 slots of the control SharedArrayBuffer. */
export const Control = { stop: 0, state: 1, slots: 2 } as const;
export const QueueState = { starting: 0, running: 1, stopping: 2, stopped: 3 } as const;

/**
 * The wake words every worker of a queue set shares: queue i's word is `i * WAKE_WORD_STRIDE` (one 64-byte
 * cache line each), 1 while its worker is about to wait or waits in readBatch, written by that worker only.
 */
export const WAKE_WORD_STRIDE = 16;

/** Float64 slots of the stats SharedArrayBuffer (written by the worker only). */
export const Stat = {
  batches: 0,
  packets: 1,
  bytes: 2,
  idleWaits: 3,
  handlerErrors: 4,
  wakes: 5,
  socketWakes: 6,
  loopWakes: 7,
  slots: 8,
} as const;

export interface QueueWorkerData {
  entry: string;
  handlerModule: string;
  handlerOptions: unknown;
  queueIndex: number;
  queueCount: number;
  fd: number;
  fds: number[];
  extraFds: number[];
  deviceName: string;
  vnetHdrBytes: number;
  offloads: number;
  batchPackets: number;
  bufferBytes: number;
  packetMaxBytes: number;
  headroomBytes: number;
  pollTimeoutMs: number;
  yieldEveryBatches: number;
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  /** Wake eventfd of each queue of the device, by queue index (-1 for a queue not started). */
  wakeFds: number[];
  /** The sleeping words of every queue (WAKE_WORD_STRIDE int32 apart). */
  wakeWords: SharedArrayBuffer;
  port: unknown;
}

export type WorkerToMain =
  | { type: 'ready' }
  | { type: 'stopped' }
  | {
      type: 'start-error' | 'handler-error' | 'fatal';
      message: string;
      stack: string;
      code: string | undefined;
    };
