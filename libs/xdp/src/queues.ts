// Runs one worker thread per XDP queue, each looping receive -> the caller's handler module (the same
// createQueueHandler contract as libs/tun's queues, so a TUN batch handler runs unchanged on AF_XDP),
// with libs/tun's shared stop flag and stats layout. stop() returns once every worker left its loop.
import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { Control, Stat, tunPackageDir } from '../../tun/src/internal.js';
import { XdpError, XdpErrorCode } from './errors.js';
import type { XdpPort } from './port.js';
import { type XdpQueueWorkerData, XdpStat, type XdpWorkerToMain } from './queue-protocol.js';

export interface StartXdpQueuesOptions {
  /** The open port (the IPv6 side, or both); it stays the caller's (close it after stop()). */
  port: XdpPort;
  /** The IPv4 side's port, when the PLAT has two interfaces (same queue count). */
  port4?: XdpPort;
  /** Module (file URL or absolute path, .js or .ts) exporting createQueueHandler(context). */
  handlerModule: URL | string;
  /** context.options (structured clone; SharedArrayBuffers shared). */
  handlerOptions?: unknown;
  /** Network namespace name for `ip -n` (neighbour table), when the port's interface is in one. */
  netns?: string;
  /** Packets per receive batch. Default 64. */
  batchPackets?: number;
  /** Longest a receive waits before the stop flag is checked again. Default 100 ms. */
  pollTimeoutMs?: number;
  /** Shortest time between neighbour-table refreshes after misses. Default 100 ms. */
  neighbourRefreshMinIntervalMs?: number;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  onError?: (error: XdpError, queueIndex: number) => void;
}

export interface XdpQueueSetStats {
  batches: number;
  packets: number;
  bytes: number;
  idleWaits: number;
  handlerErrors: number;
  /** Frames that were not IPv4/IPv6 (the program should never redirect one). */
  notIp: number;
  /** Output packets dropped for want of a next-hop MAC. */
  neighbourMisses: number;
  txPackets: number;
  txRefused: number;
  /** Output packets held while their next hop resolved. */
  held: number;
  /** Waits ended early by the worker's own event loop (I/O ready) with no frame: it yielded to the loop. */
  loopWakes: number;
}

export interface XdpQueueSet {
  readonly ports: readonly MessagePort[];
  stats(): XdpQueueSetStats;
  stop(): Promise<void>;
}

export async function startXdpQueues(options: StartXdpQueuesOptions): Promise<XdpQueueSet> {
  const { port } = options;
  const batchPackets = options.batchPackets ?? 64;
  const pollTimeoutMs = options.pollTimeoutMs ?? 100;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const invalid = (message: string) =>
    new XdpError(XdpErrorCode.invalidOptions, `startXdpQueues: ${message}`);
  const ports = options.port4 ? [port, options.port4] : [port];
  for (const p of ports) if (p.closed) throw invalid(`the port on ${p.interfaceName} is closed`);
  if (options.port4 && options.port4.queueCount !== port.queueCount)
    throw invalid(
      `port4 has ${options.port4.queueCount} queues and port ${port.queueCount}; open both with the same count`,
    );
  if (!(batchPackets >= 1 && batchPackets <= 2048))
    throw invalid(`batchPackets must be 1..2048, got ${batchPackets}`);
  if (!(pollTimeoutMs >= 1 && pollTimeoutMs <= 10_000))
    throw invalid(`pollTimeoutMs must be 1..10000, got ${pollTimeoutMs}`);
  const onError =
    options.onError ??
    ((error: XdpError, q: number) =>
      process.stderr.write(`xlat64 xdp ${port.interfaceName} queue ${q}: ${error.message}\n`));
  const module = options.handlerModule;
  const handlerModule =
    module instanceof URL ? module.href : module.startsWith('file:') ? module : pathToFileURL(module).href;
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(fromSource ? './queue-worker.ts' : './queue-worker.js', import.meta.url).href;
  const file =
    fromSource || handlerModule.endsWith('.ts')
      ? pathToFileURL(`${tunPackageDir()}src/worker-bootstrap.mjs`)
      : new URL(entry);

  const workers: {
    worker: Worker;
    control: Int32Array;
    stats: Float64Array;
    stopped: Promise<void>;
    exit: Promise<void>;
    port: MessagePort;
  }[] = [];
  const ready: Promise<void>[] = [];
  for (let queueIndex = 0; queueIndex < port.queueCount; queueIndex++) {
    const control = new Int32Array(new SharedArrayBuffer(Control.slots * 4));
    const stats = new Float64Array(new SharedArrayBuffer(XdpStat.slots * 8));
    const channel = new MessageChannel();
    const data: XdpQueueWorkerData = {
      entry,
      handlerModule,
      handlerOptions: options.handlerOptions,
      ports: ports.map((p) => ({ handle: p.handle, interfaceName: p.interfaceName })),
      queueIndex,
      queueCount: port.queueCount,
      netns: options.netns,
      neighbourRefreshMinIntervalMs: options.neighbourRefreshMinIntervalMs ?? 100,
      batchPackets,
      pollTimeoutMs,
      control: control.buffer as SharedArrayBuffer,
      stats: stats.buffer as SharedArrayBuffer,
      port: channel.port2,
    };
    // Flags a Worker refuses: --input-type (node -e) and the process-wide --expose-gc (npm run bench).
    const execArgv = process.execArgv.filter(
      (arg) => !arg.startsWith('--input-type') && arg !== '--expose-gc',
    );
    const worker = new Worker(file, {
      execArgv,
      workerData: data,
      transferList: [channel.port2],
      name: `xdp-${port.interfaceName}-q${queueIndex}`,
    });
    let settle: (error?: Error) => void = () => {};
    ready.push(new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve()))));
    let markStopped: () => void = () => {};
    const stopped = new Promise<void>((resolve) => (markStopped = resolve));
    const exit = new Promise<void>((resolve) =>
      worker.once('exit', (code) => {
        settle(
          new XdpError(
            XdpErrorCode.open,
            `queue ${queueIndex} worker exited (code ${code}) before it was ready`,
          ),
        );
        markStopped();
        resolve();
      }),
    );
    worker.on('error', (error) => {
      const wrapped = new XdpError(
        XdpErrorCode.open,
        `queue ${queueIndex} worker crashed: ${error.message}`,
        { cause: error },
      );
      settle(wrapped);
      onError(wrapped, queueIndex);
    });
    worker.on('message', (message: XdpWorkerToMain) => {
      if (message.type === 'ready') settle();
      else if (message.type === 'stopped') markStopped();
      else {
        const error = new XdpError(
          XdpErrorCode.open,
          `queue ${queueIndex} ${message.type}: ${message.message}`,
          {
            cause: Object.assign(new Error(message.message), { stack: message.stack, code: message.code }),
          },
        );
        if (message.type === 'start-error') settle(error);
        else onError(error, queueIndex);
      }
    });
    workers.push({ worker, control, stats, stopped, exit, port: channel.port1 });
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const w of workers) Atomics.store(w.control, Control.stop, 1);
      await Promise.all(
        workers.map(async (w) => {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            w.stopped,
            new Promise<void>((resolve) => (timer = setTimeout(resolve, stopTimeoutMs))),
          ]);
          clearTimeout(timer);
          await w.worker.terminate();
          await w.exit;
          w.port.close();
        }),
      );
    })();
    return stopping;
  };

  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(ready),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new XdpError(XdpErrorCode.open, `XDP queue handlers not ready within ${startTimeoutMs} ms`),
            ),
          startTimeoutMs,
        );
      }),
    ]);
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
  }

  return {
    ports: workers.map((w) => w.port),
    stats() {
      const total: XdpQueueSetStats = {
        batches: 0,
        packets: 0,
        bytes: 0,
        idleWaits: 0,
        handlerErrors: 0,
        notIp: 0,
        neighbourMisses: 0,
        txPackets: 0,
        txRefused: 0,
        held: 0,
        loopWakes: 0,
      };
      for (const { stats: s } of workers) {
        total.batches += s[Stat.batches];
        total.packets += s[Stat.packets];
        total.bytes += s[Stat.bytes];
        total.idleWaits += s[Stat.idleWaits];
        total.handlerErrors += s[Stat.handlerErrors];
        total.notIp += s[XdpStat.notIp];
        total.neighbourMisses += s[XdpStat.neighbourMisses];
        total.txPackets += s[XdpStat.txPackets];
        total.txRefused += s[XdpStat.txRefused];
        total.held += s[XdpStat.held];
        total.loopWakes += s[XdpStat.loopWakes];
      }
      return total;
    },
    stop,
  };
}
