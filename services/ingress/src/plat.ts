// `xlat64 plat` at run time (single node, embedded state): opens the TUN, routes the PREF64 and
// the IPv4 pool into it, turns on forwarding, runs the NAT engine in the queue worker, serves
// `xlat64 status`, and on stop removes what it added. With `io: xdp` it attaches libs/xdp to the
// Ethernet interface(s) instead (no TUN, routes or forwarding) and runs the same queue handler. The
// embedded state (binary log segments and snapshots, services/state) lives in stateDir.

import { join } from 'node:path';
import {
  linkUpSteps,
  type RunningRole,
  routeStep,
  type SetupStep,
  SystemSetup,
  startRole,
  startXdpRole,
  sysctlStep,
} from '../../../libs/dataplane/src/index.js';
import { parsePool4Entry, pool4Cidrs, validateConfig } from '../../nat-engine/src/index.js';
import { type NodeCompliance, startNodeCompliance } from '../../state/src/index.js';
import { type ClusterPlane, startClusterPlane } from './cluster/plat-cluster-plane.js';
import { firstPoolAddress, natEngineConfig, type PlatConfig, platTranslatorConfig } from './plat-config.js';
import { createPlatShards, type PlatQueueOptions, platCounterLayout } from './plat-queue-handler.js';
import { platPoolUse, poolUseMetrics } from './pool-use.js';
import type { TenantConfig } from './tenants/tenant-config.js';
import { publishTenants, TenantSlots } from './tenants/tenant-publish.js';

/** A running PLAT, whichever its I/O. */
export type RunningPlat = Pick<RunningRole, 'stop'> & {
  /** Applies new tenants (parsed against the running pool) without a restart; returns a log line. */
  reloadTenants(tenants: TenantConfig[] | undefined): string;
};

/** A cluster node's longest TUN read wait: the fabric socket's receive latency while the TUN is idle. */
const FABRIC_POLL_MS = 5;

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
    reloadTenants: (tenants) => role.reloadTenants(tenants),
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
  const slots = new TenantSlots(config.tenants);
  /** Applies a reloaded `tenants:` (already parsed against this node's pool) in every worker. */
  const reloadTenants = (tenants: TenantConfig[] | undefined): string => {
    const started = new Set((config.tenants ?? []).map((t) => t.name));
    publishTenants(shards.tenantConfig, {
      tenants: tenants ?? null,
      slots: tenants === undefined ? [] : slots.slotsOf(tenants),
    });
    if (tenants === undefined) return 'tenants removed: any source is translated';
    const uncounted = tenants.filter((t) => !started.has(t.name)).map((t) => t.name);
    return (
      `tenants reloaded: ${tenants.map((t) => t.name).join(', ')}` +
      (uncounted.length > 0 ? ` (per-tenant counters after a restart: ${uncounted.join(', ')})` : '')
    );
  };
  const engineConfig = validateConfig(natEngineConfig(config));
  let clusterPlane: ClusterPlane | null = null;
  const poolUse = () => platPoolUse(shards, engineConfig);
  let counterBlocks: SharedArrayBuffer[] = [];
  const handlerOptions = (counters: SharedArrayBuffer[]): PlatQueueOptions => {
    counterBlocks = counters;
    return {
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
      state: config.state,
      cluster: config.cluster,
      tenants: config.tenants,
    };
  };
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
        layout: platCounterLayout(config.tenants),
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
    return { stop: () => plat.stop(), reloadTenants };
  }
  const plat = await startRole(
    {
      role: 'plat',
      device: config.device,
      queues: config.queues,
      statusSocket: config.statusSocket,
      layout: platCounterLayout(config.tenants),
      // Active/standby (state without cluster): the routes come when every worker owns its shard (a standby
      // must not draw traffic). A cluster node takes traffic for every shard and forwards what others own.
      setupSteps: () => platSetupSteps(config, config.state === undefined || config.cluster !== undefined),
      // A cluster node's worker 0 also reads the fabric socket, between TUN reads: this bounds the wait.
      pollTimeoutMs: config.cluster === undefined ? undefined : FABRIC_POLL_MS,
      handlerModule: new URL('./plat-queue-handler.js', import.meta.url),
      // No short poll for several workers: a worker waiting on an idle TUN queue is woken through its
      // wake eventfd when another worker passes it packets (plat-queue-handler: handoff wake).
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
        cluster: clusterPlane?.status(),
      }),
    },
    log,
  );
  const stateName =
    config.state === undefined ? config.stateDir : `${config.state.nats} (node ${config.state.nodeId})`;
  log(
    `plat: ${plat.device.name} up, ${config.prefix} <-> pool ${config.pool4.join(',')}, offloads ` +
      `[${plat.device.offloadNames.join(',')}], state ${stateName}, status ${config.statusSocket}`,
  );
  if (config.state === undefined) return { stop: () => plat.stop(), reloadTenants };
  if (config.cluster !== undefined) {
    try {
      clusterPlane = await startClusterPlane(
        config.cluster,
        config.state,
        config.queues,
        shards.clusterView,
        log,
      );
    } catch (error) {
      await plat.stop();
      throw error;
    }
    const running = clusterPlane;
    return {
      async stop() {
        // Leave the membership first (the others drop this node at once), then hand the shards over.
        await running.stop();
        await plat.stop();
      },
      reloadTenants,
    };
  }
  const routes = followOwnership(config, counterBlocks, log);
  return {
    async stop() {
      routes.stop();
      await plat.stop();
    },
    reloadTenants,
  };
}

/**
 * Cluster mode: routes PREF64 and the pool into the device while every worker owns its shard, and takes
 * them away when one is fenced (another node serves it now). Reads the workers' `state.serving` gauges.
 */
function followOwnership(config: PlatConfig, counters: SharedArrayBuffer[], log: (line: string) => void) {
  const layout = platCounterLayout(config.tenants);
  const serving = layout.index('state.serving');
  const blocks = counters.map((c) => new Float64Array(c));
  const setup = new SystemSetup();
  let routed = false;
  const timer = setInterval(() => {
    const all = blocks.every((b) => b[serving] === 1);
    if (all && !routed) {
      for (const step of platRouteSteps(config)) setup.apply(step);
      routed = true;
      log(`plat: serving every shard of ${config.queues} worker(s): routes into ${config.device} added`);
    } else if (!all && routed) {
      for (const failure of setup.undoAll()) log(`plat: ${failure}`);
      routed = false;
      log(`plat: a shard is no longer this node's: routes into ${config.device} removed`);
    }
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      for (const failure of setup.undoAll()) log(`plat: ${failure}`);
    },
  };
}

export function platSetupSteps(config: PlatConfig, withRoutes = true): SetupStep[] {
  const steps: (SetupStep | null)[] = [
    ...linkUpSteps(config.device, Math.max(1500, config.mtu6)),
    sysctlStep('net.ipv6.conf.all.forwarding', '1'),
    sysctlStep('net.ipv4.ip_forward', '1'),
  ];
  if (withRoutes) steps.push(...platRouteSteps(config));
  return steps.filter((s): s is SetupStep => s !== null);
}

/** PREF64 and pool into the device (none with `routes: false`). */
export function platRouteSteps(config: PlatConfig): SetupStep[] {
  if (!config.routes) return [];
  const steps = [routeStep(config.device, config.prefix)];
  for (const entry of config.pool4)
    for (const cidr of poolCidrs(entry)) steps.push(routeStep(config.device, cidr));
  return steps;
}

/** A pool entry as CIDR blocks for routing: a prefix as is, an address as /32, a range split. */
export function poolCidrs(entry: string): string[] {
  return pool4Cidrs(parsePool4Entry('pool4', entry));
}
