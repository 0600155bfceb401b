// `xlat64 plat` at run time (single node, embedded state): opens the TUN, routes the PREF64 and
// the IPv4 pool into it, turns on forwarding, runs the NAT engine in the queue worker, serves
// `xlat64 status`, and on stop removes what it added. With `io: xdp` it attaches libs/xdp to the
// Ethernet interface(s) instead (no TUN, routes or forwarding) and runs the same queue handler. The
// embedded state (binary log segments and snapshots, services/state) lives in stateDir.

import { join } from 'node:path';
import {
  linkUpSteps,
  type RunningRole,
  roleCounterLayout,
  routeStep,
  type SetupStep,
  startRole,
  startXdpRole,
  sysctlStep,
} from '../../../libs/dataplane/src/index.js';
import { parsePool4Entry, pool4Cidrs, validateConfig } from '../../nat-engine/src/index.js';
import { type NodeCompliance, startNodeCompliance } from '../../state/src/index.js';
import { firstPoolAddress, natEngineConfig, type PlatConfig, platTranslatorConfig } from './plat-config.js';
import { createPlatShards, type PlatQueueOptions, platGaugeNames } from './plat-queue-handler.js';
import { platDropNames } from './plat-step.js';
import { platPoolUse, poolUseMetrics } from './pool-use.js';

/**
 * With several workers, one whose TUN is idle still has to drain the packets other workers pass it, and
 * it only looks between reads: its read waits at most this long (the TUN addon's poll cannot be woken
 * by another thread).
 */
const MULTI_QUEUE_POLL_TIMEOUT_MS = 1;

/** A running PLAT, whichever its I/O. */
export type RunningPlat = Pick<RunningRole, 'stop'>;

/** How long a stopping PLAT keeps sending its last compliance records while Kafka answers (the rest go at the next start). */
const COMPLIANCE_DRAIN_MS = 5000;

export async function startPlat(config: PlatConfig, log: (line: string) => void): Promise<RunningPlat> {
  let compliance: NodeCompliance | null = null;
  const role = await startPlatRole(config, log, () => compliance?.status() ?? null);
  if (config.compliance !== undefined) {
    try {
      compliance = await startPlatCompliance(config);
    } catch (error) {
      await role.stop();
      throw error;
    }
    log(
      `plat: compliance records to kafka://${config.compliance.brokers.join(',')}/${config.compliance.topic} ` +
        `(outbox in the main thread, reading the workers' logs)`,
    );
  }
  return {
    async stop() {
      // The workers write their last events first; the outbox then sends what it can.
      await role.stop();
      await compliance?.stop(COMPLIANCE_DRAIN_MS);
    },
  };
}

/**
 * The compliance outbox over the workers' embedded logs. The directories follow the queue handler's
 * layout (plat-queue-handler.ts): stateDir with one worker, stateDir/workers-<N>/q<i> with N.
 */
function startPlatCompliance(config: PlatConfig): Promise<NodeCompliance> {
  const workers = config.queues;
  const layoutDir = workers === 1 ? config.stateDir : join(config.stateDir, `workers-${workers}`);
  return startNodeCompliance({
    config: config.compliance!,
    logs: Array.from({ length: workers }, (_, i) => ({
      shard: i,
      directory: workers === 1 ? config.stateDir : join(layoutDir, `q${i}`),
    })),
    checkpointDirectory: layoutDir,
    layoutTag: workers === 1 ? '' : `w${workers}/`,
    engine: validateConfig(natEngineConfig(config)),
    natConfiguration: natEngineConfig(config),
  });
}

async function startPlatRole(
  config: PlatConfig,
  log: (line: string) => void,
  complianceStatus: () => unknown,
): Promise<RunningPlat> {
  const shards = createPlatShards(natEngineConfig(config), config.queues, config.shards);
  const engineConfig = validateConfig(natEngineConfig(config));
  const poolUse = () => platPoolUse(shards, engineConfig);
  const handlerOptions = (counters: SharedArrayBuffer[]): PlatQueueOptions => ({
    translator: platTranslatorConfig(config),
    engine: natEngineConfig(config),
    icmpSource4: firstPoolAddress(config),
    stateDir: config.stateDir,
    icmpErrorsPerSecond: config.icmpErrorsPerSecond,
    icmpErrorsBurst: config.icmpErrorsBurst,
    flushIntervalMs: config.flushIntervalMs,
    tracesUrl: config.tracesUrl,
    mtu4: config.mtu4,
    mtu6: config.mtu6,
    counters,
    shards,
  });
  if (config.io === 'xdp') {
    // The interfaces keep their addresses and routes: the kernel still answers ARP/NDP and the
    // node's own traffic; the XDP program takes only the PREF64 and the pool.
    const plat = await startXdpRole(
      {
        role: 'plat',
        interfaceName: config.interface!,
        interfaceName4: config.interface4,
        mode: config.xdpMode,
        queues: config.queues,
        pref64: [config.prefix],
        pool4: config.pool4.flatMap(poolCidrs),
        statusSocket: config.statusSocket,
        layout: roleCounterLayout(platDropNames, platGaugeNames),
        handlerModule: new URL('./plat-queue-handler.js', import.meta.url),
        handlerOptions,
        metrics: config.metrics,
        observed: poolUseMetrics(poolUse),
        details: () => ({
          prefix: config.prefix,
          pool4: config.pool4,
          stateDir: config.stateDir,
          compliance: complianceStatus(),
          poolUse: poolUse(),
        }),
      },
      log,
    );
    const names = config.interface4 ? `${config.interface}+${config.interface4}` : config.interface;
    const stale = plat.port.replacedStale ? ' (replaced a stale xlat64 program)' : '';
    log(
      `plat: ${names} up, AF_XDP ${plat.port.mode} mode${stale}, ${config.prefix} <-> pool ` +
        `${config.pool4.join(',')}, state ${config.stateDir}, status ${config.statusSocket}`,
    );
    return plat;
  }
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
      handlerOptions,
      metrics: config.metrics,
      observed: poolUseMetrics(poolUse),
      details: () => ({
        prefix: config.prefix,
        pool4: config.pool4,
        stateDir: config.stateDir,
        shards: config.shards,
        workers: config.queues,
        compliance: complianceStatus(),
        poolUse: poolUse(),
      }),
    },
    log,
  );
  log(
    `plat: ${plat.device.name} up, ${config.prefix} <-> pool ${config.pool4.join(',')}, offloads ` +
      `[${plat.device.offloadNames.join(',')}], state ${config.stateDir}, status ${config.statusSocket}`,
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
