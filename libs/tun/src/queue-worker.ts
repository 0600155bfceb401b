// Worker-thread entry of one TUN queue: loads the caller's handler module, then loops
// readBatch -> handler.onBatch until the shared stop flag is set. The flag is checked between batches
// and every read waits at most pollTimeoutMs, so stop is prompt even when no packet ever arrives
// (worker.terminate() cannot interrupt a thread blocked in the addon). No allocation per packet.
// The read also waits on the queue's wake eventfd: another worker that passed this one work through
// shared memory wakes it (context.wakeQueue: an eventfd write only while this worker announces, in its
// shared wake word, that it waits), and stop() wakes it.

import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { bundledHandler } from './bundled.js';
import type { CreateQueueHandler, QueueContext, QueueHandler } from './handler.js';
import { IdleWait } from './idle-wait.js';
import { loadNative } from './native.js';
import {
  Control,
  QueueState,
  type QueueWorkerData,
  Stat,
  WAKE_WORD_STRIDE,
  type WorkerToMain,
} from './queue-protocol.js';

/** A worker under load returns to its event loop after this long at most (or yieldEveryBatches). */
const YIELD_AFTER_MS = 5;
const HANDLER_ERRORS_REPORTED_MAX = 10;

const data = workerData as QueueWorkerData;
const port = parentPort!;
const post = (message: WorkerToMain) => port.postMessage(message);
const describe = (error: unknown) =>
  error instanceof Error
    ? { message: error.message, stack: error.stack ?? '', code: (error as { code?: string }).code }
    : { message: String(error), stack: '', code: undefined };

const control = new Int32Array(data.control);
const stats = new Float64Array(data.stats);
const wakeWords = new Int32Array(data.wakeWords);

async function start(): Promise<void> {
  const native = loadNative();
  const buffer = Buffer.alloc(data.bufferBytes);
  const offsets = new Uint32Array(data.batchPackets);
  const lengths = new Uint32Array(data.batchPackets);
  const { fd, batchPackets, pollTimeoutMs, packetMaxBytes, headroomBytes, wakeFds } = data;
  // Yield to the worker's event loop this often even under constant load, so timers, messages and
  // sockets a handler relies on still run.
  const { yieldEveryBatches } = data;
  const wakeFd = wakeFds[data.queueIndex];
  // The worker's event loop waits while readBatch blocks: readBatch watches its fd too and returns
  // -3 when it has I/O ready, so a reply on the handler's NATS or Redis socket is handled at once and
  // not a poll timeout (100 ms by default) later. A takeover is a chain of such round trips.
  // onIdle keeps its cadence all the same (a state owner's lease renewals are in it): see IdleWait.
  const idleWait = new IdleWait(pollTimeoutMs, native.eventLoopFd());
  const wakeWord = data.queueIndex * WAKE_WORD_STRIDE;
  const wakeQueue = (queueIndex: number): void => {
    // Pairs with the waiter's store-then-check (hasWork): every Atomics op is sequentially consistent,
    // so either this load sees the waiter's announcement or the waiter's check sees what was published.
    if (Atomics.load(wakeWords, queueIndex * WAKE_WORD_STRIDE) !== 0) native.wake(wakeFds[queueIndex]);
  };

  let handler: QueueHandler;
  try {
    const carried = bundledHandler(data.handlerModule);
    const module =
      carried === null
        ? ((await import(data.handlerModule)) as { createQueueHandler?: CreateQueueHandler })
        : { createQueueHandler: carried };
    if (typeof module.createQueueHandler !== 'function') {
      throw new Error(
        `handler module ${data.handlerModule} does not export a function createQueueHandler(context)`,
      );
    }
    const context: QueueContext = {
      queueIndex: data.queueIndex,
      queueCount: data.queueCount,
      fd,
      fds: data.fds,
      extraFds: data.extraFds,
      deviceName: data.deviceName,
      vnetHdrBytes: data.vnetHdrBytes,
      offloads: data.offloads,
      options: data.handlerOptions,
      tun: native,
      port: data.port as MessagePort,
      wakeQueue,
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
  const onWake = handler.onWake?.bind(handler) ?? onIdle;
  const hasWork = handler.hasWork?.bind(handler);
  const socketFd = handler.socketFd?.bind(handler);
  const onSocket = handler.onSocket?.bind(handler);
  const callback = (fn: () => void): void => {
    try {
      fn();
    } catch (error) {
      stats[Stat.handlerErrors]++;
      if (handlerErrorsReported++ < HANDLER_ERRORS_REPORTED_MAX)
        post({ type: 'handler-error', ...describe(error) });
    }
  };

  const finish = async () => {
    Atomics.store(control, Control.state, QueueState.stopping);
    try {
      await handler.onStop?.();
    } catch (error) {
      post({ type: 'handler-error', ...describe(error) });
    }
    Atomics.store(control, Control.state, QueueState.stopped);
    post({ type: 'stopped' });
  };

  const run = (): void => {
    // Light traffic keeps every read short but never empty: without a time bound, 64 batches of one
    // packet could keep the event loop (a NATS reply, a lease renewal) waiting for hundreds of ms.
    const yieldAtMs = performance.now() + YIELD_AFTER_MS;
    try {
      for (let i = 0; i < yieldEveryBatches; i++) {
        if (Atomics.load(control, Control.stop) !== 0) {
          void finish();
          return;
        }
        // Announce the wait, then look for passed work: a producer either sees the announcement (and
        // wakes the eventfd) or published before it (and hasWork sees it: the read does not wait).
        Atomics.store(wakeWords, wakeWord, 1);
        const pending = hasWork?.() === true;
        const count = native.readBatch(
          fd,
          buffer,
          offsets,
          lengths,
          batchPackets,
          pending ? 0 : idleWait.timeoutMs(),
          packetMaxBytes,
          headroomBytes,
          wakeFd,
          socketFd?.() ?? -1,
          idleWait.loopFdNow(),
        );
        Atomics.store(wakeWords, wakeWord, 0);
        if (count === -2) {
          // The handler's socket is readable and the TUN is not: the handler reads it, or the event loop.
          stats[Stat.socketWakes]++;
          if (onSocket === undefined) break;
          callback(onSocket);
          continue;
        }
        if (count === -3) {
          // Only the event loop has work (I/O completions, messages): yield to it now, and wait out the
          // rest of this idle period afterwards.
          stats[Stat.loopWakes]++;
          if (idleWait.loopWoken()) {
            stats[Stat.idleWaits]++;
            if (onIdle) callback(onIdle);
          }
          break;
        }
        idleWait.reset();
        if (count < 0 || (count === 0 && pending)) {
          // Woken (another worker passed work, or stop) with nothing on the TUN: take the work, read again.
          stats[Stat.wakes]++;
          if (onWake) callback(onWake);
          continue;
        }
        if (count === 0) {
          stats[Stat.idleWaits]++;
          if (onIdle) callback(onIdle);
          break;
        }
        let bytes = 0;
        for (let p = 0; p < count; p++) bytes += lengths[p];
        stats[Stat.batches]++;
        stats[Stat.packets] += count;
        stats[Stat.bytes] += bytes;
        try {
          handler.onBatch(buffer, offsets, lengths, count);
        } catch (error) {
          stats[Stat.handlerErrors]++;
          if (handlerErrorsReported++ < HANDLER_ERRORS_REPORTED_MAX)
            post({ type: 'handler-error', ...describe(error) });
        }
        if (performance.now() >= yieldAtMs) break;
      }
    } catch (error) {
      // The queue itself failed (EBADF: closed under us, ...). Report and stop this worker.
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
