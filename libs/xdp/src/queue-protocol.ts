// Shared layout between the main thread (queues.ts) and an XDP queue worker (queue-worker.ts): the
// workerData shape and the stats slots beyond libs/tun's (control words and messages are libs/tun's).
import type { WorkerToMain } from '../../tun/src/queue-protocol.js';

/** Float64 slots of the stats SharedArrayBuffer: libs/tun's five, then these. */
export const XdpStat = {
  notIp: 5,
  neighbourMisses: 6,
  txPackets: 7,
  txRefused: 8,
  held: 9,
  slots: 10,
} as const;

export interface XdpQueueWorkerData {
  entry: string;
  handlerModule: string;
  handlerOptions: unknown;
  /** One port serving both IP versions, or the IPv6 side then the IPv4 side. */
  ports: { handle: number; interfaceName: string }[];
  queueIndex: number;
  queueCount: number;
  netns: string | undefined;
  neighbourRefreshMinIntervalMs: number;
  batchPackets: number;
  pollTimeoutMs: number;
  control: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  port: unknown;
}

export type XdpWorkerToMain = WorkerToMain;
