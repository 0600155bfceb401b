// `xlat64 plat` at run time (single node, embedded state): opens the TUN, routes the PREF64 and
// the IPv4 pool into it, turns on forwarding, runs the NAT engine in the queue worker, serves
// `xlat64 status`, and on stop removes what it added. The event log of this run is written to
// stateDir/events-<start time>.log (one JSON batch per line).
import { join } from 'node:path';
import {
  createRingMemory,
  linkUpSteps,
  type RunningRole,
  roleCounterLayout,
  routeStep,
  type SetupStep,
  startRole,
  sysctlStep,
} from '../../../libs/dataplane/src/index.js';
import {
  createSharedPoolMemory,
  parsePool4Entry,
  pool4Cidrs,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { firstPoolAddress, natEngineConfig, type PlatConfig, platTranslatorConfig } from './plat-config.js';
import { type PlatQueueOptions, platGaugeNames } from './plat-queue-handler.js';
import { platDropNames } from './plat-step.js';
import { createBlockTableStorage, createHandoffMemory, createShardTable } from './routing/index.js';

/** Bytes of each worker-to-worker ring: ~1,400 full-size or ~14,000 small packets in flight per pair. */
const HANDOFF_RING_BYTES = 2 << 20;
/**
 * With several workers, one whose TUN is idle still has to drain the packets other workers pass it, and
 * it only looks between reads: its read waits at most this long (the TUN addon's poll cannot be woken
 * by another thread).
 */
const MULTI_QUEUE_POLL_TIMEOUT_MS = 1;

export async function startPlat(config: PlatConfig, log: (line: string) => void): Promise<RunningRole> {
  // The node's shared state, made once here and mapped by every worker: the pool's block lessees, the
  // block table, the virtual-shard table (worker i owns shards s with s mod queues = i) and the rings.
  const engineConfig = validateConfig(natEngineConfig(config));
  const shards = {
    pool: createSharedPoolMemory(engineConfig),
    blocks: createBlockTableStorage(engineConfig),
    table: createShardTable({ memberCount: config.queues, shardCount: config.shards }).toData(),
    handoff: createHandoffMemory(config.queues, () => createRingMemory(HANDOFF_RING_BYTES)),
  };
  const eventLogPath = join(config.stateDir, `events-${new Date().toISOString().replaceAll(':', '')}.log`);
  const plat = await startRole(
    {
      role: 'plat',
      device: config.device,
      queues: config.queues,
      statusSocket: config.statusSocket,
      layout: roleCounterLayout(platDropNames, platGaugeNames),
      setupSteps: () => platSetupSteps(config),
      handlerModule: new URL('./plat-queue-handler.js', import.meta.url),
      pollTimeoutMs: config.queues > 1 ? MULTI_QUEUE_POLL_TIMEOUT_MS : undefined,
      handlerOptions: (counters): PlatQueueOptions => ({
        translator: platTranslatorConfig(config),
        engine: natEngineConfig(config),
        icmpSource4: firstPoolAddress(config),
        eventLogPath,
        flushIntervalMs: config.flushIntervalMs,
        mtu4: config.mtu4,
        mtu6: config.mtu6,
        counters,
        shards,
      }),
      details: () => ({
        prefix: config.prefix,
        pool4: config.pool4,
        eventLog: eventLogPath,
        shards: config.shards,
        workers: config.queues,
      }),
    },
    log,
  );
  log(
    `plat: ${plat.device.name} up, ${config.prefix} <-> pool ${config.pool4.join(',')}, offloads ` +
      `[${plat.device.offloadNames.join(',')}], events ${eventLogPath}, status ${config.statusSocket}`,
  );
  return plat;
}

export function platSetupSteps(config: PlatConfig): SetupStep[] {
  const steps: (SetupStep | null)[] = [
    ...linkUpSteps(config.device, Math.max(1500, config.mtu6)),
    sysctlStep('net.ipv6.conf.all.forwarding', '1'),
    sysctlStep('net.ipv4.ip_forward', '1'),
  ];
  if (config.routes) {
    steps.push(routeStep(config.device, config.prefix));
    for (const entry of config.pool4)
      for (const cidr of poolCidrs(entry)) steps.push(routeStep(config.device, cidr));
  }
  return steps.filter((s): s is SetupStep => s !== null);
}

/** A pool entry as CIDR blocks for routing: a prefix as is, an address as /32, a range split. */
export function poolCidrs(entry: string): string[] {
  return pool4Cidrs(parsePool4Entry('pool4', entry));
}
