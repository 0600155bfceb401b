// Runs one worker thread per TUN queue, each looping readBatch -> the caller's handler module, with
// a shared stop flag (SharedArrayBuffer + Atomics) checked between batches. The handler translates in
// the reading thread; nothing per packet crosses to the main thread. stop() returns once every
// worker has left its loop, which takes at most one poll timeout even on an idle device. Each queue
// also has a wake eventfd its read waits on next to the TUN fd: a handler that passed another queue's
// worker work through shared memory wakes it (context.wakeQueue), and stop() wakes every worker.

import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { bundledWorkerFile } from './bundled.js';
import type { TunDevice } from './device.js';
import { TUN_PACKET_MAX_BYTES } from './device.js';
import { TunError, TunErrorCode } from './errors.js';
import { loadNative, tunPackageDir } from './native.js';
import {
  Control,
  type QueueWorkerData,
  Stat,
  WAKE_WORD_STRIDE,
  type WorkerToMain,
} from './queue-protocol.js';

export interface StartQueuesOptions {
  /** The opened device; its fds stay owned by the caller (close the device after stop()). */
  device: Pick<TunDevice, 'name' | 'fds' | 'vnetHdrBytes' | 'offloads'>;
  /** Module (file URL or absolute path, .js or .ts) exporting createQueueHandler(context). */
  handlerModule: URL | string;
  /** Passed to createQueueHandler as context.options (structured clone; SharedArrayBuffers shared). */
  handlerOptions?: unknown;
  /** Indices of device.fds to run; default all. */
  queues?: readonly number[];
  /** Further fds the handler may write to (e.g. a second TUN device), as context.extraFds. */
  extraFds?: readonly number[];
  /** Packets per read batch. Default 64. */
  batchPackets?: number;
  /** Receive buffer per queue; must hold packetMaxBytes + headroomBytes. Default 1 MiB. */
  bufferBytes?: number;
  /** Largest packet (with virtio header) a read must hold. Default TUN_PACKET_MAX_BYTES. */
  packetMaxBytes?: number;
  /** Free bytes left before every packet (room to prepend when IPv4 grows into IPv6). Default 0. */
  headroomBytes?: number;
  /**
   * Longest a read waits with no packet before the handler's onIdle runs (timers). Default 100 ms. Stop
   * and context.wakeQueue end a wait at once.
   */
  pollTimeoutMs?: number;
  /**
   * Batches a worker handles before it yields to its event loop under constant load (its timers, messages
   * and sockets run then). Default 64; 1 for a handler that also reads a socket on that loop (a cluster
   * PLAT's fabric: libuv reads at most 32 datagrams per loop turn).
   */
  yieldEveryBatches?: number;
  /** Longest start waits for every handler to load. Default 30 s. */
  startTimeoutMs?: number;
  /** Longest stop waits for a worker before terminating it. Default 10 s. */
  stopTimeoutMs?: number;
  /** Handler exceptions and queue failures after start. Default: written to stderr. */
  onError?: (error: TunError, queueIndex: number) => void;
}

export interface QueueStats {
  batches: number;
  packets: number;
  bytes: number;
  /** Reads that timed out with no packet. */
  idleWaits: number;
  /** Exceptions thrown by the handler (each one also dropped the rest of its batch). */
  handlerErrors: number;
  /** Reads ended early by another worker's wakeQueue with no packet on the TUN (onWake ran). */
  wakes: number;
  /** Reads ended early by the handler's socket (socketFd) with no packet on the TUN: the loop yielded. */
  socketWakes: number;
  /**
   * Reads ended early by the worker's own event loop (a reply on its NATS or Redis socket, a message)
   * with nothing on the TUN: the worker yielded to it at once rather than after the poll timeout.
   */
  loopWakes: number;
}

export interface RunningQueue {
  readonly queueIndex: number;
  readonly fd: number;
  /** Main-thread end of the handler's context.port. */
  readonly port: MessagePort;
  readonly threadId: number;
  stats(): QueueStats;
  /** True once the worker thread has exited. */
  exited(): boolean;
}

export interface QueueSet {
  readonly queues: readonly RunningQueue[];
  /** Sum over all queues. */
  stats(): QueueStats;
  /** Sets the stop flag and resolves once every worker has exited. Idempotent. */
  stop(): Promise<void>;
}

const toHref = (module: URL | string) =>
  module instanceof URL ? module.href : module.startsWith('file:') ? module : pathToFileURL(module).href;

function workerEntry(handlerHref: string): { file: URL; entry: string } {
  const bundle = bundledWorkerFile();
  if (bundle !== null) return { file: bundle, entry: bundle.href };
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const entry = new URL(fromSource ? './queue-worker.ts' : './queue-worker.js', here).href;
  if (!fromSource && !handlerHref.endsWith('.ts')) return { file: new URL(entry), entry };
  // Node 20 cannot start a .ts worker: go through the bootstrap that registers tsx first.
  return { file: pathToFileURL(`${tunPackageDir()}src/worker-bootstrap.mjs`), entry };
}

const readStats = (s: Float64Array): QueueStats => ({
  batches: s[Stat.batches],
  packets: s[Stat.packets],
  bytes: s[Stat.bytes],
  idleWaits: s[Stat.idleWaits],
  handlerErrors: s[Stat.handlerErrors],
  wakes: s[Stat.wakes],
  socketWakes: s[Stat.socketWakes],
  loopWakes: s[Stat.loopWakes],
});

interface QueueRuntime {
  queue: RunningQueue;
  worker: Worker;
  control: Int32Array;
  exit: Promise<void>;
  stopped: Promise<void>;
}

export async function startQueues(options: StartQueuesOptions): Promise<QueueSet> {
  const { device } = options;
  const indices = options.queues ?? device.fds.map((_, i) => i);
  const batchPackets = options.batchPackets ?? 64;
  const packetMaxBytes = options.packetMaxBytes ?? TUN_PACKET_MAX_BYTES;
  const headroomBytes = options.headroomBytes ?? 0;
  const bufferBytes = options.bufferBytes ?? 1 << 20;
  const pollTimeoutMs = options.pollTimeoutMs ?? 100;
  const yieldEveryBatches = options.yieldEveryBatches ?? 64;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const invalid = (message: string) => new TunError(TunErrorCode.invalidOptions, `startQueues: ${message}`);
  if (indices.length === 0) throw invalid('no queues to start');
  for (const i of indices)
    if (!(i >= 0 && i < device.fds.length)) throw invalid(`queue index ${i} out of range`);
  if (!(batchPackets >= 1 && batchPackets <= 4096))
    throw invalid(`batchPackets must be 1..4096, got ${batchPackets}`);
  if (bufferBytes < packetMaxBytes + headroomBytes) {
    throw invalid(
      `bufferBytes (${bufferBytes}) must hold packetMaxBytes + headroomBytes (${packetMaxBytes + headroomBytes})`,
    );
  }
  if (!(pollTimeoutMs >= 1 && pollTimeoutMs <= 10_000))
    throw invalid(`pollTimeoutMs must be 1..10000, got ${pollTimeoutMs}`);
  if (!(Number.isInteger(yieldEveryBatches) && yieldEveryBatches >= 1 && yieldEveryBatches <= 4096))
    throw invalid(`yieldEveryBatches must be an integer 1..4096, got ${yieldEveryBatches}`);
  const onError =
    options.onError ??
    ((error: TunError, queueIndex: number) =>
      process.stderr.write(`xlat64 tun ${device.name} queue ${queueIndex}: ${error.message}\n`));

  const handlerModule = toHref(options.handlerModule);
  const { file, entry } = workerEntry(handlerModule);
  const runtimes: QueueRuntime[] = [];
  const ready: Promise<void>[] = [];
  // One wake eventfd per started queue, closed by stop() once every worker has left its loop.
  const native = loadNative();
  const wakeFds = device.fds.map(() => -1);
  try {
    for (const i of indices) wakeFds[i] = native.createWakeFd();
  } catch (error) {
    for (const fd of wakeFds) if (fd >= 0) native.close(fd);
    throw new TunError(TunErrorCode.io, `startQueues: ${(error as Error).message}`, { cause: error });
  }
  const wakeWords = new SharedArrayBuffer(
    device.fds.length * WAKE_WORD_STRIDE * Int32Array.BYTES_PER_ELEMENT,
  );

  for (const queueIndex of indices) {
    const controlBuffer = new SharedArrayBuffer(Control.slots * Int32Array.BYTES_PER_ELEMENT);
    const statsBuffer = new SharedArrayBuffer(Stat.slots * Float64Array.BYTES_PER_ELEMENT);
    const control = new Int32Array(controlBuffer);
    const stats = new Float64Array(statsBuffer);
    const channel = new MessageChannel();
    const data: QueueWorkerData = {
      entry,
      handlerModule,
      handlerOptions: options.handlerOptions,
      queueIndex,
      queueCount: device.fds.length,
      fd: device.fds[queueIndex],
      fds: [...device.fds],
      extraFds: [...(options.extraFds ?? [])],
      deviceName: device.name,
      vnetHdrBytes: device.vnetHdrBytes,
      offloads: device.offloads,
      batchPackets,
      bufferBytes,
      packetMaxBytes,
      headroomBytes,
      pollTimeoutMs,
      yieldEveryBatches,
      control: controlBuffer,
      stats: statsBuffer,
      wakeFds,
      wakeWords,
      port: channel.port2,
    };
    // --input-type (from `node --input-type=module -e`) would make the worker refuse its file entry;
    // --expose-gc (`npm run bench`) is a process-wide flag a Worker refuses.
    const execArgv = process.execArgv.filter(
      (arg) => !arg.startsWith('--input-type') && arg !== '--expose-gc',
    );
    const worker = new Worker(file, {
      execArgv,
      workerData: data,
      transferList: [channel.port2],
      name: `tun-${device.name}-q${queueIndex}`,
    });
    let exited = false;
    let settleReady: (error?: Error) => void = () => {};
    ready.push(
      new Promise<void>((resolve, reject) => {
        settleReady = (error) => (error ? reject(error) : resolve());
      }),
    );
    let markStopped: () => void = () => {};
    const stopped = new Promise<void>((resolve) => {
      markStopped = resolve;
    });
    const exit = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        exited = true;
        settleReady(
          new TunError(
            TunErrorCode.workerStart,
            `queue ${queueIndex} worker exited (code ${code}) before it was ready`,
          ),
        );
        markStopped();
        resolve();
      });
    });
    worker.on('error', (error) => {
      const wrapped = new TunError(
        TunErrorCode.workerFailed,
        `queue ${queueIndex} worker crashed: ${error.message}`,
        {
          cause: error,
        },
      );
      settleReady(wrapped);
      onError(wrapped, queueIndex);
    });
    worker.on('message', (message: WorkerToMain) => {
      switch (message.type) {
        case 'ready':
          settleReady();
          break;
        case 'stopped':
          markStopped();
          break;
        case 'start-error':
          settleReady(
            new TunError(
              TunErrorCode.workerStart,
              `queue ${queueIndex}: cannot start handler: ${message.message}`,
              {
                cause: Object.assign(new Error(message.message), {
                  stack: message.stack,
                  code: message.code,
                }),
              },
            ),
          );
          break;
        case 'handler-error':
        case 'fatal':
          onError(
            new TunError(
              message.type === 'fatal' ? TunErrorCode.io : TunErrorCode.workerFailed,
              `${message.type === 'fatal' ? 'queue failed' : 'handler threw'}: ${message.message}`,
              {
                cause: Object.assign(new Error(message.message), {
                  stack: message.stack,
                  code: message.code,
                }),
              },
            ),
            queueIndex,
          );
          break;
      }
    });
    runtimes.push({
      worker,
      control,
      exit,
      stopped,
      queue: {
        queueIndex,
        fd: device.fds[queueIndex],
        port: channel.port1,
        threadId: worker.threadId,
        stats: () => readStats(stats),
        exited: () => exited,
      },
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const r of runtimes) Atomics.store(r.control, Control.stop, 1);
      // A worker waiting in its read sees the flag now, not at the end of its poll timeout.
      for (const r of runtimes) native.wake(wakeFds[r.queue.queueIndex]);
      const late: number[] = [];
      await Promise.all(
        runtimes.map(async (r) => {
          let timer: NodeJS.Timeout | undefined;
          const timedOut = await Promise.race([
            r.stopped.then(() => false),
            new Promise<boolean>((resolve) => {
              timer = setTimeout(() => resolve(true), stopTimeoutMs);
            }),
          ]);
          clearTimeout(timer);
          if (timedOut) late.push(r.queue.queueIndex);
          // The loop has ended (or is hopelessly stuck): terminate ends what the handler left running.
          await r.worker.terminate();
          await r.exit;
          r.queue.port.close();
        }),
      );
      // Every worker has exited (or was terminated): no read waits on these any more.
      for (const fd of wakeFds) if (fd >= 0) native.close(fd);
      if (late.length > 0) {
        throw new TunError(
          TunErrorCode.workerFailed,
          `queues ${late.join(', ')} of ${device.name} did not stop within ${stopTimeoutMs} ms and were terminated`,
        );
      }
    })();
    return stopping;
  };

  let startTimer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(ready),
      new Promise<never>((_, reject) => {
        startTimer = setTimeout(
          () =>
            reject(
              new TunError(
                TunErrorCode.workerStart,
                `queue handlers of ${device.name} not ready within ${startTimeoutMs} ms`,
              ),
            ),
          startTimeoutMs,
        );
      }),
    ]);
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  } finally {
    clearTimeout(startTimer);
  }

  const queues = Object.freeze(runtimes.map((r) => r.queue));
  return {
    queues,
    stats: () => {
      const total: QueueStats = {
        batches: 0,
        packets: 0,
        bytes: 0,
        idleWaits: 0,
        handlerErrors: 0,
        wakes: 0,
        socketWakes: 0,
        loopWakes: 0,
      };
      for (const q of queues) {
        const s = q.stats();
        total.batches += s.batches;
        total.packets += s.packets;
        total.bytes += s.bytes;
        total.idleWaits += s.idleWaits;
        total.handlerErrors += s.handlerErrors;
        total.wakes += s.wakes;
        total.socketWakes += s.socketWakes;
        total.loopWakes += s.loopWakes;
      }
      return total;
    },
    stop,
  };
}
