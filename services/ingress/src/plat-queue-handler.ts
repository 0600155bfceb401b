// The PLAT's TUN queue handler module, run by libs/tun inside the queue's worker thread: the NAT
// engine lives here with its tables, so the packet path never leaves the thread. Engine events are
// batched per flush interval into the embedded event log (synchronous appends: the reading loop
// does not yield to an event loop). Timers advance on every batch and on every idle poll.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BatchTranslator, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import type { CreateQueueHandler, QueueContext, QueueHandler } from '../../../libs/tun/src/index.js';
import { parseRfc6052Prefix, type TranslatorConfigInput } from '../../../libs/xlat/src/index.js';
import {
  createCryptoRandom,
  createNatEngine,
  type NatEngineConfigInput,
  type NatEvent,
  parseIpv4,
  ShardPipeline,
} from '../../nat-engine/src/index.js';
import { EmbeddedEventLog, EventBatcher } from '../../state/src/index.js';
import { PlatStep, platDropNames } from './plat-step.js';

export interface PlatQueueOptions {
  translator: TranslatorConfigInput;
  engine: NatEngineConfigInput;
  icmpSource4: string;
  eventLogPath: string;
  flushIntervalMs: number;
  mtu4: number;
  mtu6: number;
  counters: SharedArrayBuffer[];
}

/** Engine gauges published next to the counters. */
export const platGaugeNames = [
  'nat.sessions',
  'nat.mappings',
  'nat.blocks',
  'nat.subscribers',
  'nat.heldsyns',
  'events.pending',
  'events.refused',
];
const MAINTENANCE_INTERVAL_MS = 100;

export const createQueueHandler: CreateQueueHandler = (context: QueueContext): QueueHandler => {
  const options = context.options as PlatQueueOptions;
  const layout = roleCounterLayout(platDropNames, platGaugeNames);
  const counters = new Float64Array(options.counters[context.queueIndex]);
  mkdirSync(dirname(options.eventLogPath), { recursive: true });
  const log = new EmbeddedEventLog<NatEvent>(options.eventLogPath);
  const startMs = Date.now();
  const batcher = new EventBatcher<NatEvent>(
    log,
    { shard: 0, flushIntervalMs: options.flushIntervalMs, batchEventsMax: 4096, bufferEventsMax: 1 << 20 },
    startMs,
  );
  const engine = createNatEngine(options.engine, {
    sink: { push: (event) => batcher.add(event) },
    random: createCryptoRandom(),
    startMs,
  });
  engine.start(startMs);
  const prefix = parseRfc6052Prefix(options.translator.prefix);
  // Built bottom up, nothing circular: the engine, the shard pipeline over it, the ingress step
  // that hands it packets. Held-SYN expiry comes back as the engine's output, drained by advance().
  const pipeline = new ShardPipeline(
    engine,
    { translator: options.translator, icmpSource4: parseIpv4(options.icmpSource4) },
    layout,
    prefix,
  );
  const platStep = new PlatStep(pipeline, layout, prefix, {
    allowNonGlobalIpv4: options.translator.allowNonGlobalIpv4,
  });
  const batch = new BatchTranslator(platStep, {
    fd: context.fd,
    writer: context.tun,
    vnetHdrBytes: context.vnetHdrBytes,
    mtu6: options.mtu6,
    mtu4: options.mtu4,
    counters,
    layout,
  });
  const gauge = platGaugeNames.map((name) => layout.index(name));
  let lastMaintenanceMs = startMs;
  let lastFlushMs = startMs;

  const maintain = (nowMs: number) => {
    pipeline.advance(nowMs);
    if (nowMs - lastFlushMs >= options.flushIntervalMs) {
      engine.flush(nowMs);
      lastFlushMs = nowMs;
    }
    batcher.tick(nowMs);
    for (const reply of pipeline.pendingReplies) batch.enqueue(reply);
    pipeline.pendingReplies.length = 0;
    batch.flush();
    const state = engine.state;
    counters[gauge[0]] = state.sessionCount;
    counters[gauge[1]] = state.mappingCount;
    counters[gauge[2]] = state.leasedBlockCount;
    counters[gauge[3]] = state.subscriberCount;
    counters[gauge[4]] = pipeline.heldCount;
    counters[gauge[5]] = batcher.pendingCount;
    counters[gauge[6]] = batcher.refusedEvents;
    lastMaintenanceMs = nowMs;
  };

  return {
    onBatch(buffer, offsets, lengths, count) {
      const nowMs = Date.now();
      platStep.setNow(nowMs);
      batch.onBatch(buffer, offsets, lengths, count);
      if (nowMs - lastMaintenanceMs >= MAINTENANCE_INTERVAL_MS) maintain(nowMs);
    },
    onIdle() {
      maintain(Date.now());
    },
    onStop() {
      const nowMs = Date.now();
      engine.flush(nowMs);
      batcher.tick(nowMs + options.flushIntervalMs);
      log.stop();
    },
  };
};
