// Shared layout between the main thread (queues.ts) and an XDP queue worker (queue-worker.ts): the
// workerData shape and the stats slots beyond libs/tun's (control words and messages are libs/tun's).
import type { QueueContext } from '../../tun/src/index.js';
import type { WorkerToMain } from '../../tun/src/queue-protocol.js';

/**
 * The TUN queue contract's context as an XDP queue worker gives it to its handler, with what only an
 * AF_XDP handler needs: frames leave on the wire without the kernel's forwarding, so the handler is
 * the router and checks what fits the outgoing link itself.
 */
export interface XdpQueueContext extends QueueContext {
  /**
   * The MTU of the interface that sends IPv4 (4) or IPv6 (6) packets, as the kernel has it now (a
   * change arrives through rtnetlink within the neighbour table's refresh interval). 0: unknown.
   */
  linkMtu(version: 4 | 6): number;
}

/** Float64 slots of the stats SharedArrayBuffer: libs/tun's five, then these. */
export const XdpStat = {
  notIp: 5,
  neighbourMisses: 6,
  txPackets: 7,
  txRefused: 8,
  held: 9,
  /** Waits ended early by the worker's event loop (I/O ready) with no frame: the worker yielded to it. */
  loopWakes: 10,
  slots: 11,
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
