// `xlat64 plat` at run time (single node, embedded state): opens the TUN, routes the PREF64 and
// the IPv4 pool into it, turns on forwarding, runs the NAT engine in the queue worker, serves
// `xlat64 status`, and on stop removes what it added. With `io: xdp` it attaches libs/xdp to the
// Ethernet interface(s) instead (no TUN, routes or forwarding) and runs the same queue handler. The
// embedded state (binary log segments and snapshots, services/state) lives in stateDir.

import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  configError,
  linkUpSteps,
  type RunningRole,
  routeStep,
  type SetupStep,
  SystemSetup,
  startRole,
  startXdpRole,
  sysctlStep,
} from '../../../libs/dataplane/src/index.js';
import { outboxMetrics, startTracing, type Tracing } from '../../../libs/telemetry/src/index.js';
import { TunSteering } from '../../../libs/tun/src/index.js';
import { parsePool4Entry, pool4Cidrs, validateConfig } from '../../nat-engine/src/index.js';
import {
  ClusterCompliance,
  connectNats,
  type NodeCompliance,
  startNodeCompliance,
} from '../../state/src/index.js';
import { publishFabricKeys } from './cluster/fabric-keys.js';
import type { PlatFabricConfig } from './cluster/plat-cluster-config.js';
import { type ClusterPlane, startClusterPlane } from './cluster/plat-cluster-plane.js';
import { ControlTimeline } from './control-timeline.js';
import { type DrillFollower, followDrillSteps } from './drill-follower.js';
import { firstPoolAddress, natEngineConfig, type PlatConfig, platTranslatorConfig } from './plat-config.js';
import { createPlatShards, type PlatQueueOptions, platCounterLayout } from './plat-queue-handler.js';
import { platPoolUse, poolUseMetrics } from './pool-use.js';
import { ShardRouter, ShardTable } from './routing/index.js';
import { refuseSubscriberLengthChanges, type TenantConfig } from './tenants/tenant-config.js';
import { TenantNames } from './tenants/tenant-names.js';
import { publishTenants, TenantSlots } from './tenants/tenant-publish.js';
import { tenantMetrics, tenantStatusCounters, tenantUsage } from './tenants/tenant-stats.js';
import { UsageRecorder } from './tenants/tenant-usage.js';

/** Most leased blocks the steering program's map holds (beyond, a block is routed in JavaScript). */
const STEERING_BLOCKS_MAX = 1 << 22;

/** A running PLAT, whichever its I/O. */
export type RunningPlat = Pick<RunningRole, 'stop' | 'metrics'> & {
  /** Applies new tenants (parsed against the running pool) without a restart; returns a log line. */
  reloadTenants(tenants: TenantConfig[] | undefined): string;
  /**
   * Applies a reloaded `cluster.fabric` key set (rotation) in the fabric; returns a log line. Throws,
   * naming the field, for keys that are refused or a node without `cluster:`.
   */
  reloadFabricKeys(fabric: PlatFabricConfig | undefined): string;
};

/** A cluster node's longest TUN read wait: the fabric socket's receive latency while the TUN is idle. */
const FABRIC_POLL_MS = 5;

/** How often the control-plane timeline compares the workers' state counters (an event's time is within this). */
const TIMELINE_SAMPLE_MS = 250;

/** How long a stopping PLAT keeps sending its last compliance records while Kafka answers (the rest go at the next start). */
const COMPLIANCE_DRAIN_MS = 5000;

export async function startPlat(config: PlatConfig, log: (line: string) => void): Promise<RunningPlat> {
  let compliance: NodeCompliance | null = null;
  // The records name the tenant the node serves a subscriber under: the role's reloads update it.
  const tenantNames = new TenantNames(config.tenants);
  const role = await startPlatRole(config, log, () => compliance?.status() ?? null, tenantNames);
  if (config.compliance !== undefined) {
    try {
      compliance = await startPlatCompliance(config, tenantNames);
    } catch (error) {
      await role.stop();
      throw error;
    }
    // The outbox runs here in the main thread: its lag gauges read its status at each scrape.
    const running = compliance;
    role.metrics?.observe(outboxMetrics(() => running.status()));
    log(
      `plat: compliance records to kafka://${config.compliance.brokers.join(',')}/${config.compliance.topic} ` +
        (config.state === undefined
          ? `(outbox in the main thread, reading the workers' logs)`
          : `(outbox in the main thread, reading the JetStream log of the shards this node owns)`),
    );
  }
  return {
    async stop() {
      // The workers write their last events first; the outbox then sends what it can.
      await role.stop();
      await compliance?.stop(COMPLIANCE_DRAIN_MS);
    },
    reloadTenants: (tenants) => role.reloadTenants(tenants),
    reloadFabricKeys: (fabric) => role.reloadFabricKeys(fabric),
    metrics: role.metrics,
  };
}

/**
 * The compliance outbox over the workers' embedded logs. The directories follow the queue handler's
 * layout (plat-queue-handler.ts): stateDir with one worker, stateDir/workers-<N>/q<i> with N.
 */
function startPlatCompliance(config: PlatConfig, tenantNames: TenantNames): Promise<NodeCompliance> {
  if (config.state !== undefined) return startPlatClusterCompliance(config, tenantNames);
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
    tenantOf: tenantNames.tenantOf,
  });
}

/**
 * Cluster mode: the outbox reads the shards' JetStream subjects and produces the records of the shards
 * this node owns (services/state compliance/cluster-outbox.ts); ids are the pool's, the same on every node.
 */
async function startPlatClusterCompliance(
  config: PlatConfig,
  tenantNames: TenantNames,
): Promise<NodeCompliance> {
  const state = config.state!;
  const nc = await connectNats({ url: state.nats, name: `xlat64-${state.nodeId}-compliance` });
  try {
    const compliance = await ClusterCompliance.start({
      config: config.compliance!,
      nc,
      nodeId: state.nodeId,
      shards: Array.from({ length: config.queues }, (_, i) => i),
      idPrefix: `c-${state.pool}/`,
      engine: validateConfig(natEngineConfig(config)),
      natConfiguration: natEngineConfig(config),
      tenantOf: tenantNames.tenantOf,
    });
    return {
      status: () => compliance.status(),
      async stop(drainMs) {
        await compliance.stop(drainMs);
        await nc.close();
      },
    };
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw error;
  }
}

async function startPlatRole(
  config: PlatConfig,
  log: (line: string) => void,
  complianceStatus: () => unknown,
  tenantNames: TenantNames,
): Promise<RunningPlat> {
  const shards = createPlatShards(natEngineConfig(config), config.queues, config.shards);
  const slots = new TenantSlots(config.tenants);
  let tenantsNow = config.tenants;
  let reloads = 0;
  const reloadFabricKeys = (fabric: PlatFabricConfig | undefined): string => {
    if (config.cluster === undefined || fabric === undefined)
      throw configError(
        'cluster',
        'fabric keys rotate only on a node started with cluster: and still given it',
      );
    const sending = publishFabricKeys(shards.fabricKeys, {
      keys: fabric.keys,
      currentKeyId: fabric.currentKeyId,
    });
    return `fabric keys ${fabric.keys.map((k) => k.id).join(', ')} accepted, sending with key ${sending}`;
  };
  /** Applies a reloaded `tenants:` (already parsed against this node's pool) in every worker. */
  const reloadTenants = (tenants: TenantConfig[] | undefined): string => {
    refuseSubscriberLengthChanges(tenantsNow, tenants);
    const had = tenantsNow !== undefined;
    publishTenants(shards.tenantConfig, {
      tenants: tenants ?? null,
      slots: tenants === undefined ? [] : slots.slotsOf(tenants),
    });
    tenantsNow = tenants;
    tenantNames.set(tenants);
    reloads++;
    if (tenants === undefined)
      return had ? 'tenants removed: any source is translated' : 'no tenants: any source is translated';
    return `tenants reloaded: ${tenants.map((t) => t.name).join(', ')}`;
  };
  const engineConfig = validateConfig(natEngineConfig(config));
  let clusterPlane: ClusterPlane | null = null;
  const poolUse = () => platPoolUse(shards, engineConfig);
  // Per-tenant figures: every worker's row summed by slot, named by the main thread's slot table.
  const usage = () =>
    tenantUsage({
      slotOf: (name) => slots.slotOf(name),
      names: () => slots.names(),
      current: () => tenantsNow,
      stats: shards.tenantStats,
      blocks: shards.tenantBlocks,
      engine: engineConfig,
    });
  const recorder =
    config.usage === undefined
      ? null
      : new UsageRecorder(config.usage, usage, config.usage.node ?? hostname(), Date.now());
  let usageTimer: NodeJS.Timeout | null = null;
  /** Once the role runs: peaks sampled and records written every second. */
  const startUsage = () => {
    if (recorder !== null) usageTimer = setInterval(() => recorder.sample(Date.now()), 1000);
  };
  const stopUsage = () => {
    if (usageTimer !== null) clearInterval(usageTimer);
    recorder?.stop(Date.now());
  };
  const tenantDetails = () =>
    tenantsNow === undefined && slots.names().length === 0
      ? {}
      : {
          tenants: usage(),
          tenantReloads: reloads,
          usage:
            config.usage === undefined
              ? undefined
              : { file: config.usage.file, intervalMs: config.usage.intervalMs, records: recorder?.written },
        };
  let counterBlocks: SharedArrayBuffer[] = [];
  /** Cluster state: takeovers, hand-overs, fences and rejoins seen in the workers' counters. */
  let timeline: ControlTimeline | null = null;
  let timelineTimer: NodeJS.Timeout | null = null;
  /** The TUN steering program's handle once attached (several TUN queues, queueSteering). */
  let steering: TunSteering | undefined;
  const handlerOptions = (counters: SharedArrayBuffer[]): PlatQueueOptions => {
    counterBlocks = counters;
    return {
      steering: steering?.handle,
      translator: platTranslatorConfig(config),
      engine: natEngineConfig(config),
      icmpSource4: firstPoolAddress(config),
      stateDir: config.stateDir,
      icmpErrorsPerSecond: config.icmpErrorsPerSecond,
      icmpErrorsBurst: config.icmpErrorsBurst,
      flushIntervalMs: config.flushIntervalMs,
      snapshotTailBytes: config.snapshotTailBytes,
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
        observed: [...poolUseMetrics(poolUse), ...tenantMetrics(usage)],
        moreCounters: () => tenantStatusCounters(usage()),
        details: () => ({
          ...tenantDetails(),
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
    startUsage();
    return {
      async stop() {
        await plat.stop();
        stopUsage();
      },
      reloadTenants,
      reloadFabricKeys,
      metrics: plat.metrics,
    };
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
      // Several queues: the kernel asks a BPF program which queue owns each packet's shard. A kernel that
      // refuses it leaves the queue choice to the kernel, and the workers pass packets on as before.
      onDevice: (device) => {
        if (config.queues < 2 || !config.queueSteering) return undefined;
        let loaded: TunSteering | undefined;
        try {
          const engine = validateConfig(natEngineConfig(config));
          loaded = TunSteering.load(config.shards, Math.min(engine.totalBlocks, STEERING_BLOCKS_MAX));
          // The hash and every shard's queue before the first packet (the workers keep them current, with
          // the leases, once they run): a router of the node's table, here only to fill the maps.
          new ShardRouter(ShardTable.fromData(shards.table), engine, { blockStorage: shards.blocks }).steer(
            loaded,
            config.queues,
          );
          loaded.attach(device.fds[0]);
          steering = loaded;
          log(`plat: queue steering on ${device.name}: each packet queued for its shard's worker`);
          const attached = loaded;
          return () => {
            TunSteering.detach(device.fds[0]);
            attached.close();
          };
        } catch (error) {
          loaded?.close();
          log(`plat: queue steering off (${(error as Error).message}); workers pass packets to their owners`);
          return undefined;
        }
      },
      // A cluster node's worker 0 also reads the fabric socket, between TUN reads: this bounds the wait.
      pollTimeoutMs: config.cluster === undefined ? undefined : FABRIC_POLL_MS,
      // ... and after every batch under load: libuv reads at most 32 datagrams per loop turn, so with the
      // default (64 batches) an owner took ~1/8 of the frames its forwarders sent (the rest overflowed
      // the socket's receive buffer: 35,104 of 40,025 in the cluster lab at 10,000 packets/s).
      yieldEveryBatches: config.cluster === undefined ? undefined : 1,
      handlerModule: new URL('./plat-queue-handler.js', import.meta.url),
      // No short poll for several workers: a worker waiting on an idle TUN queue is woken through its
      // wake eventfd when another worker passes it packets (plat-queue-handler: handoff wake).
      handlerOptions,
      metrics: config.metrics,
      observed: [...poolUseMetrics(poolUse), ...tenantMetrics(usage)],
      moreCounters: () => tenantStatusCounters(usage()),
      details: () => ({
        ...tenantDetails(),
        prefix: config.prefix,
        pool4: config.pool4,
        stateDir: config.stateDir,
        shards: config.shards,
        workers: config.queues,
        // Several TUN queues: whether the kernel queues packets for their shard's worker (a BPF program).
        queueSteering: config.queues > 1 ? steering !== undefined : undefined,
        compliance: complianceStatus(),
        poolUse: poolUse(),
        replication: config.state === undefined ? undefined : replicationStatus(config, counterBlocks),
        cluster: clusterPlane?.status(),
        events: timeline?.events(),
        tracesUi: config.tracesUi,
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
  if (config.state !== undefined && config.cluster !== undefined) {
    try {
      const epochNewer = platCounterLayout(config.tenants).index('fabric.drop.epoch-newer');
      const blocks = counterBlocks.map((c) => new Float64Array(c));
      clusterPlane = await startClusterPlane(
        config.cluster,
        config.state,
        config.queues,
        shards.clusterView,
        log,
        () => blocks.reduce((sum, b) => sum + b[epochNewer], 0),
      );
    } catch (error) {
      await plat.stop();
      throw error;
    }
  }
  const plane = clusterPlane;
  // Cluster mode: the plane follows the ownership table; a hot-standby pair: the routes follow the shards.
  const routes =
    config.state === undefined || plane !== null ? null : followOwnership(config, counterBlocks, log);
  startUsage();
  // The main thread's own spans (drill steps it observed): a tracer of its own, like each worker's.
  let mainTracing: Tracing | null = null;
  let drills: Promise<DrillFollower | null> = Promise.resolve(null);
  if (config.state !== undefined) {
    const blocks = counterBlocks.map((c) => new Float64Array(c));
    timeline = new ControlTimeline(platCounterLayout(config.tenants), () => blocks);
    const sampled = timeline;
    sampled.sample(new Date());
    timelineTimer = setInterval(() => sampled.sample(new Date()), TIMELINE_SAMPLE_MS);
    if (config.tracesUrl !== undefined)
      mainTracing = startTracing({
        serviceName: 'xlat64-plat',
        otlpUrl: config.tracesUrl,
        resource: { 'service.instance.id': `plat-${process.pid}-main`, 'xlat64.node': config.state.nodeId },
      });
    // Not awaited: the start does not wait for NATS (the workers' own connections report it).
    const nats = config.state.nats;
    drills = followDrillSteps(nats, config.state.nodeId, sampled, log).catch((error: Error) => {
      log(`plat: drill steps not followed (NATS ${nats}: ${error.message})`);
      return null;
    });
  }
  return {
    async stop() {
      if (timelineTimer !== null) clearInterval(timelineTimer);
      await (await drills)?.stop();
      await mainTracing?.shutdown().catch(() => {});
      // Leave the membership first (the others drop this node at once), then hand the shards over.
      await plane?.stop();
      routes?.stop();
      await plat.stop();
      // After the workers stopped: the last record holds every packet they counted.
      stopUsage();
    },
    reloadTenants,
    reloadFabricKeys,
    metrics: plat.metrics,
  };
}

/**
 * Cluster mode, for the status document: each worker's shard with its replication figures (the same
 * slots /metrics reads as xlat64.replication.*): an owner's unacknowledged batches and bytes and its
 * last append-to-ack time, a standby's last apply lag, the last takeover's duration.
 */
function replicationStatus(config: PlatConfig, counters: SharedArrayBuffer[]) {
  const layout = platCounterLayout(config.tenants);
  const at = (name: string) => layout.index(name);
  return counters.map((block, worker) => {
    const c = new Float64Array(block);
    return {
      shard: worker,
      serving: c[at('state.serving')] === 1,
      epoch: c[at('state.epoch')],
      unackedBatches: c[at('replication.unackedBatches')],
      unackedBytes: c[at('replication.unackedBytes')],
      appendedBatches: c[at('replication.appendedBatches')],
      appendSecondsLast: c[at('replication.appendSecondsLast')],
      standbyBatches: c[at('replication.standbyLagBatches')],
      standbyLagSecondsLast: c[at('replication.standbyLagSecondsLast')],
      takeoverSeconds: c[at('state.takeoverSeconds')],
    };
  });
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
