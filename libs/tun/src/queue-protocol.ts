// Shared layout between the main thread (queues.ts) and a TUN queue worker (queue-worker.ts): the
// workerData shape, the control words and stats slots in SharedArrayBuffers, and the messages.

/** Int32 slots of the control SharedArrayBuffer. */
export const Control = { stop: 0, state: 1, slots: 2 } as const;
export const QueueState = { starting: 0, running: 1, stopping: 2, stopped: 3 } as const;

/** Float64 slots of the stats SharedArrayBuffer (written by the worker only). */
export const Stat = { batches: 0, packets: 1, bytes: 2, idleWaits: 3, handlerErrors: 4, slots: 5 } as const;

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
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
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
