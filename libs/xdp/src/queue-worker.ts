// Worker-thread entry of one XDP queue (on one interface, or on the IPv6 and the IPv4 interface at
// once): loads the caller's handler module (the same contract as a TUN queue: createQueueHandler(context)
// -> { onBatch, onIdle?, onStop? }), then loops receive -> strip Ethernet -> handler.onBatch on the
// UMEM itself until the shared stop flag is set; with two interfaces an idle wait is one poll() over
// both sockets. The handler's output goes through context.tun.writeBatch, here an EthernetBatchWriter
// (interface by IP version, next-hop MACs from the kernel's neighbour table). No allocation per packet.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import {
  type CreateQueueHandler,
  loadNative as loadTunNative,
  type QueueHandler,
  type TunNative,
} from '../../tun/src/index.js';
import { Control, IdleWait, QueueState, Stat } from '../../tun/src/internal.js';
import { EthernetBatchWriter } from './ethernet-writer.js';
import { loadNative } from './native.js';
import { NeighbourTable } from './neighbours.js';
import {
  type XdpQueueContext,
  type XdpQueueWorkerData,
  XdpStat,
  type XdpWorkerToMain,
} from './queue-protocol.js';

const YIELD_EVERY_BATCHES = 64;
/** A worker under load returns to its event loop after this long at most (or YIELD_EVERY_BATCHES). */
const YIELD_AFTER_MS = 5;
const HANDLER_ERRORS_REPORTED_MAX = 10;

const data = workerData as XdpQueueWorkerData;
const port = parentPort!;
const post = (message: XdpWorkerToMain) => port.postMessage(message);
const describe = (error: unknown) =>
  error instanceof Error
    ? { message: error.message, stack: error.stack ?? '', code: (error as { code?: string }).code }
    : { message: String(error), stack: '', code: undefined };

const control = new Int32Array(data.control);
const stats = new Float64Array(data.stats);

async function start(): Promise<void> {
  const native = loadNative();
  const { queueIndex, batchPackets, pollTimeoutMs } = data;
  const offsets = new Uint32Array(batchPackets);
  const lengths = new Uint32Array(batchPackets);
  const handles = data.ports.map((p) => p.handle);
  const waitSet = new Int32Array(handles.flatMap((h) => [h, queueIndex]));
  // The worker's event loop waits while a receive blocks: the wait watches its fd too (libs/tun's
  // queue worker does the same), so NATS and Redis replies are handled at once; idle() keeps its
  // cadence all the same (IdleWait).
  const idleWait = new IdleWait(pollTimeoutMs, loadTunNative().eventLoopFd());
  let handler: QueueHandler;
  const neighbours: NeighbourTable[] = [];
  let writer: EthernetBatchWriter;
  const umems: Buffer[] = [];
  try {
    for (const port of data.ports) {
      umems.push(Buffer.from(native.umem(port.handle, queueIndex)));
      const table = new NeighbourTable({
        interfaceName: port.interfaceName,
        netns: data.netns,
        refreshMinIntervalMs: data.neighbourRefreshMinIntervalMs,
      });
      neighbours.push(table);
      table.refresh();
    }
    const targets = data.ports.map((p, i) => ({
      handle: p.handle,
      queue: queueIndex,
      neighbours: neighbours[i],
    }));
    // ports[0] is the IPv6 side (or both); ports[1], when given, the IPv4 side.
    writer = new EthernetBatchWriter(native, targets[targets.length - 1], targets[0]);
    const module = (await import(data.handlerModule)) as { createQueueHandler?: CreateQueueHandler };
    if (typeof module.createQueueHandler !== 'function') {
      throw new Error(
        `handler module ${data.handlerModule} does not export a function createQueueHandler(context)`,
      );
    }
    // The TUN contract's context, with the queue index standing in for the fd and a writer that only
    // has writeBatch (what a batch handler uses).
    const side4 = neighbours[neighbours.length - 1];
    const side6 = neighbours[0];
    const context: XdpQueueContext = {
      queueIndex,
      queueCount: data.queueCount,
      fd: queueIndex,
      fds: Array.from({ length: data.queueCount }, (_, i) => i),
      extraFds: [],
      deviceName: data.ports.map((p) => p.interfaceName).join('+'),
      vnetHdrBytes: 0,
      offloads: 0,
      options: data.handlerOptions,
      tun: writer as unknown as TunNative,
      port: data.port as MessagePort,
      linkMtu: (version) => (version === 4 ? side4.mtu : side6.mtu),
    };
    handler = await module.createQueueHandler(context);
    if (!handler || typeof handler.onBatch !== 'function') {
      throw new Error(`createQueueHandler of ${data.handlerModule} returned no object with onBatch()`);
    }
  } catch (error) {
    post({ type: 'start-error', ...describe(error) });
    Atomics.store(control, Control.state, QueueState.stopped);
    return;
  }

  let handlerErrorsReported = 0;
  const onIdle = handler.onIdle?.bind(handler);
  const publish = () => {
    stats[XdpStat.neighbourMisses] = writer.stats.neighbourMisses;
    stats[XdpStat.txPackets] = writer.stats.sent;
    stats[XdpStat.txRefused] = writer.stats.refused;
    stats[XdpStat.held] = writer.stats.held;
  };
  const finish = async () => {
    Atomics.store(control, Control.state, QueueState.stopping);
    try {
      await handler.onStop?.();
    } catch (error) {
      post({ type: 'handler-error', ...describe(error) });
    }
    publish();
    for (const table of neighbours) table.close();
    Atomics.store(control, Control.state, QueueState.stopped);
    post({ type: 'stopped' });
  };
  const reportHandlerError = (error: unknown) => {
    stats[Stat.handlerErrors]++;
    if (handlerErrorsReported++ < HANDLER_ERRORS_REPORTED_MAX)
      post({ type: 'handler-error', ...describe(error) });
  };

  const maintain = () => {
    const nowMs = Date.now();
    for (const table of neighbours) table.maintain(nowMs);
    writer.retryHeld(nowMs);
  };

  /**
   * Receives one batch from port p (waiting up to timeoutMs) and hands it to the handler; -1 when the
   * wait ended for the event loop with no frame.
   */
  const serve = (p: number, timeoutMs: number): number => {
    const umem = umems[p];
    const received = native.receive(
      handles[p],
      queueIndex,
      offsets,
      lengths,
      batchPackets,
      timeoutMs,
      idleWait.loopFdNow(),
    );
    if (received <= 0) return received;
    // Skip the Ethernet header by offset; the program only redirects IPv4/IPv6.
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < received; i++) {
      const at = offsets[i];
      const etherType = (umem[at + 12] << 8) | umem[at + 13];
      if ((etherType !== 0x0800 && etherType !== 0x86dd) || lengths[i] <= 14) {
        stats[XdpStat.notIp]++;
        continue;
      }
      offsets[count] = at + 14;
      lengths[count] = lengths[i] - 14;
      bytes += lengths[count];
      count++;
    }
    stats[Stat.batches]++;
    stats[Stat.packets] += count;
    stats[Stat.bytes] += bytes;
    try {
      handler.onBatch(umem, offsets, lengths, count);
    } catch (error) {
      reportHandlerError(error);
    }
    return received;
  };

  const idle = () => {
    stats[Stat.idleWaits]++;
    maintain();
    if (onIdle) {
      try {
        onIdle();
      } catch (error) {
        reportHandlerError(error);
      }
    }
    publish();
  };

  const run = (): void => {
    // As in libs/tun: under light traffic, a time bound returns to the event loop every few ms.
    const yieldAtMs = performance.now() + YIELD_AFTER_MS;
    try {
      for (let b = 0; b < YIELD_EVERY_BATCHES; b++) {
        if (Atomics.load(control, Control.stop) !== 0) {
          void finish();
          return;
        }
        let received = 0;
        const timeoutMs = idleWait.timeoutMs();
        if (handles.length === 1) {
          received = serve(0, timeoutMs);
        } else {
          for (let p = 0; p < handles.length; p++) received += Math.max(0, serve(p, 0));
          if (received === 0) {
            const ready = native.waitAny(waitSet, timeoutMs, idleWait.loopFdNow());
            if (ready === 0) {
              idleWait.reset();
              idle();
              break;
            }
            if (ready > 0) continue; // frames arrived during the wait: serve them now
            received = -1;
          }
        }
        if (received === -1) {
          // Only the event loop has work: yield to it now, and wait out the rest of the idle period after.
          stats[XdpStat.loopWakes]++;
          if (idleWait.loopWoken()) idle();
          break;
        }
        idleWait.reset();
        if (received === 0) {
          idle();
          break;
        }
        maintain();
        if (performance.now() >= yieldAtMs) break;
      }
      publish();
    } catch (error) {
      post({ type: 'fatal', ...describe(error) });
      void finish();
      return;
    }
    setImmediate(run);
  };

  Atomics.store(control, Control.state, QueueState.running);
  post({ type: 'ready' });
  run();
}

void start();
