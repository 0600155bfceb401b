// The PLAT's TUN queue handler module, run by libs/tun inside the queue's worker thread: the NAT
// engine lives here with its tables, so the packet path never leaves the thread. The engine's state
// comes from, and its events go to, the embedded store in stateDir (services/state: snapshot + log,
// restored at start after a crash; writes are asynchronous, the worker yields between batches). Timers
// advance on every batch and on every idle poll.
import { BatchTranslator, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import type { CreateQueueHandler, QueueContext, QueueHandler } from '../../../libs/tun/src/index.js';
import { parseRfc6052Prefix, type TranslatorConfigInput } from '../../../libs/xlat/src/index.js';
import {
  createCryptoRandom,
  createNatEngine,
  type NatEngineConfigInput,
  parseIpv4,
  ShardPipeline,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { EmbeddedNatStore } from '../../state/src/index.js';
import { PlatStep, platDropNames } from './plat-step.js';

export interface PlatQueueOptions {
  translator: TranslatorConfigInput;
  engine: NatEngineConfigInput;
  icmpSource4: string;
  /** The state directory (stateDir): embedded log segments and snapshots. */
  stateDir: string;
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
  'events.appendFailures',
  'state.unreplicated',
  'state.snapshots',
  'state.restoredSessions',
];
const MAINTENANCE_INTERVAL_MS = 100;

export const createQueueHandler: CreateQueueHandler = async (
  context: QueueContext,
): Promise<QueueHandler> => {
  const options = context.options as PlatQueueOptions;
  const layout = roleCounterLayout(platDropNames, platGaugeNames);
  const counters = new Float64Array(options.counters[context.queueIndex]);
  const startMs = Date.now();
  const random = createCryptoRandom();
  // Restores mappings and sessions written before a crash or stop (snapshot + log tail).
  const store = await EmbeddedNatStore.open(
    {
      directory: options.stateDir,
      config: validateConfig(options.engine),
      hashSeed: random.nextUint32(),
      flushIntervalMs: options.flushIntervalMs,
    },
    startMs,
  );
  const engine = createNatEngine(options.engine, {
    sink: store.sink,
    random,
    state: store.state,
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
    store.tick(nowMs);
    for (const reply of pipeline.pendingReplies) batch.enqueue(reply);
    pipeline.pendingReplies.length = 0;
    batch.flush();
    const state = engine.state;
    counters[gauge[0]] = state.sessionCount;
    counters[gauge[1]] = state.mappingCount;
    counters[gauge[2]] = state.leasedBlockCount;
    counters[gauge[3]] = state.subscriberCount;
    counters[gauge[4]] = pipeline.heldCount;
    const status = store.status();
    counters[gauge[5]] = status.batcher.bufferedEvents;
    counters[gauge[6]] = status.batcher.refusedEvents;
    counters[gauge[7]] = status.batcher.appendFailures;
    // The log misses events (refused at the buffer bound, until the next snapshot) or another writer owns it.
    counters[gauge[8]] = status.batcher.state === 'unreplicated' || status.batcher.state === 'fenced' ? 1 : 0;
    counters[gauge[9]] = status.snapshots;
    counters[gauge[10]] = store.recovery.sessions;
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
    async onStop() {
      const nowMs = Date.now();
      engine.flush(nowMs);
      await store.stop(nowMs);
    },
  };
};
