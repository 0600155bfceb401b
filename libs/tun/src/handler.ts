// The contract between a TUN queue worker and the packet handler module a caller plugs into it.
// The handler runs inside the queue's worker thread, on the buffer the batch was read into, so a
// translator handles each packet where it landed and writes its output batch straight to a TUN fd.
import type { MessagePort } from 'node:worker_threads';
import type { TunNative } from './native.js';

/** What a handler gets once, when its queue's worker starts. */
export interface QueueContext {
  /** Index of this queue in the device's fds, 0-based. */
  readonly queueIndex: number;
  readonly queueCount: number;
  /** This queue's fd (the one the batches come from). */
  readonly fd: number;
  /** Every queue fd of the device, and of any peer devices the caller passed in `extraFds`. */
  readonly fds: readonly number[];
  readonly extraFds: readonly number[];
  readonly deviceName: string;
  /** Bytes of virtio_net_hdr in front of each packet (0 without IFF_VNET_HDR). */
  readonly vnetHdrBytes: number;
  /** TUN_F_* offloads the kernel accepted. */
  readonly offloads: number;
  /** `handlerOptions` as given to startQueues (structured-cloned; SharedArrayBuffers are shared). */
  readonly options: unknown;
  /** The addon: writeBatch(fd, buffer, offsets, lengths, count) sends an output batch. */
  readonly tun: TunNative;
  /** A private channel to the main thread (the other end is `QueueSet.queues[i].port`). */
  readonly port: MessagePort;
  /**
   * Wakes queue `queueIndex`'s worker when it waits for packets (its handler's `onWake` then runs at
   * once, not at the poll timeout); costs one Atomics load, plus one eventfd write only when that worker
   * sleeps. For handing work between queue workers through shared memory: call it once per batch
   * after publishing. Absent where the queue loop has no wake (AF_XDP queues).
   */
  readonly wakeQueue?: (queueIndex: number) => void;
}

/** Per-queue packet handler. onBatch must not keep references to `buffer` past its return. */
export interface QueueHandler {
  /**
   * One batch: packet i is buffer[offsets[i] .. offsets[i] + lengths[i]) (virtio header first when
   * vnetHdrBytes > 0). Synchronous: return when the batch is handled. Never throw for a bad packet;
   * a throw is counted in the queue's handlerErrors and the loop continues.
   */
  onBatch(buffer: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number): void;
  /** Called when a read wait timed out with no packet (at most every pollTimeoutMs): flush, expire. */
  onIdle?(): void;
  /**
   * Called when another worker woke this queue (`context.wakeQueue`) and no packet came from the TUN:
   * take what it passed. Without onWake, onIdle runs instead.
   */
  onWake?(): void;
  /**
   * Asked after the worker announced that it will wait, right before the read: true when work another
   * worker passed is waiting (the read then does not wait). Closes the race between a producer that
   * published just before the announcement (and so did not wake) and the wait.
   */
  hasWork?(): boolean;
  /**
   * A socket this handler reads on the worker's event loop (a cluster PLAT's fabric), asked before each
   * read: the read's wait also ends when it becomes readable, and the loop then yields to the event loop
   * at once instead of waiting out the poll timeout with the socket's buffer filling. -1: none.
   */
  socketFd?(): number;
  /**
   * Called when socketFd() became readable and the TUN had nothing: read the socket here (a batch) instead
   * of waiting for the event loop's turn. Without onSocket the loop yields to the event loop instead.
   * While the socket keeps the wait short, onIdle may not run: do what is due there too (timers).
   */
  onSocket?(): void;
  /** Called once after the loop stopped, before the worker exits. */
  onStop?(): void | Promise<void>;
}

/** A handler module must export this function under this name. */
export type CreateQueueHandler = (context: QueueContext) => QueueHandler | Promise<QueueHandler>;
