// The PLAT's TUN queue handler module, run by libs/tun inside the queue's worker thread: the worker's
// NAT engine (the shards the table gives this worker) lives here with its tables, so a packet of its
// own shards never leaves the thread; a packet of another worker's shard goes to that worker through a
// shared-memory ring, and packets other workers passed here are drained after every batch and idle
// poll. The engine's state comes from, and its events go to, the worker's embedded store (services/state:
// snapshot + log, restored at start after a crash; writes are asynchronous, the worker yields between
// batches). Timers advance on every batch and idle poll.
import { join } from 'node:path';
import { BatchTranslator, createRingMemory, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { startTracing, type Tracing } from '../../../libs/telemetry/src/index.js';
import {
  type CreateQueueHandler,
  type QueueContext,
  type QueueHandler,
  TunSteering,
} from '../../../libs/tun/src/index.js';
import type { XdpQueueContext } from '../../../libs/xdp/src/index.js';
import { parseRfc6052Prefix, type TranslatorConfigInput } from '../../../libs/xlat/src/index.js';
import {
  claimSharedPoolBlocks,
  createCryptoRandom,
  createNatEngine,
  createSharedPoolMemory,
  type EventSink,
  leasedBlockEvents,
  type NatEngine,
  type NatEngineConfigInput,
  type NatState,
  type PoolAllocator,
  parseIpv4,
  portsInUseByAddress,
  type RandomSource,
  ShardPipeline,
  SharedPoolAllocator,
  type SharedPoolMemory,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { EmbeddedNatStore } from '../../state/src/index.js';
import { ClusterViewReader, createClusterViewMemory, routingTableOf } from './cluster/cluster-view.js';
import { createFabricKeysMemory, FabricKeysReader } from './cluster/fabric-keys.js';
import type { PlatClusterConfig } from './cluster/plat-cluster-config.js';
import { fabricGaugeNames, PlatFabric } from './cluster/plat-fabric.js';
import { type ClusterShardState, openClusterShardState } from './plat-cluster-state.js';
import type { PlatStateConfig } from './plat-state-config.js';
import { PlatStep, platDropNames } from './plat-step.js';
import {
  createBlockTableStorage,
  createHandoffMemory,
  createShardTable,
  type HandoffMemory,
  ShardRouter,
  ShardTable,
  type ShardTableData,
  WorkerHandoff,
} from './routing/index.js';
import {
  TENANTS_MAX,
  type TenantConfig,
  tenantPrefixTable,
  tenantSubscriberLengths,
} from './tenants/tenant-config.js';
import type { TenantPrefixTable } from './tenants/tenant-lpm.js';
import { createTenantBlockCounts, tenantPoolShares } from './tenants/tenant-pool.js';
import {
  createTenantConfigMemory,
  type PublishedTenants,
  TenantConfigReader,
} from './tenants/tenant-publish.js';
import {
  createTenantStatsMemory,
  TENANT_STAT_ENTRIES,
  TenantStat,
  tenantSessionShares,
} from './tenants/tenant-stats.js';

export interface PlatQueueOptions {
  translator: TranslatorConfigInput;
  engine: NatEngineConfigInput;
  icmpSource4: string;
  /** The state directory (stateDir): embedded log segments and snapshots. */
  stateDir: string;
  /** ICMP error token bucket (default 1000 per second, burst 50). */
  icmpErrorsPerSecond?: number;
  icmpErrorsBurst?: number;
  flushIntervalMs: number;
  /** A snapshot is due when the log tail since the last one reaches max(this, the last snapshot's size). */
  snapshotTailBytes?: number;
  /** OTLP/HTTP traces URL: this worker's control-plane spans (recovery, snapshots) are exported there. */
  tracesUrl?: string;
  mtu4: number;
  mtu6: number;
  counters: SharedArrayBuffer[];
  /** The ISPs served (`tenants:`); absent: any source is translated. */
  tenants?: TenantConfig[];
  /** The node's shared memory (`createPlatShards`); absent: a node of this one worker. */
  shards?: PlatShards;
  /** Cluster mode (`--state`): the worker's shard lives in NATS/Redis (plat-cluster-state.ts). */
  state?: PlatStateConfig;
  /** Several nodes as one translator (with `state`): table from the main thread, fabric in worker 0. */
  cluster?: PlatClusterConfig;
  /** The TUN steering program's handle (libs/tun TunSteering) when the main thread attached one. */
  steering?: number;
}

/** What a node's workers share: pool lessees, block table, shard table, rings. */
export interface PlatShards {
  pool: SharedPoolMemory;
  /**
   * Ports of dynamic mappings per pool address, one int32 row of poolAddressCount per worker, written
   * by that worker once a second (status `poolUse`, `xlat64.pool.ports.used`).
   */
  poolPorts: SharedArrayBuffer;
  blocks: SharedArrayBuffer;
  table: ShardTableData;
  handoff: HandoffMemory;
  /** Blocks each tenant slot holds, node-wide (one Int32 per slot; createTenantBlockCounts). */
  tenantBlocks: SharedArrayBuffer;
  /** Tenants changed while running (SIGHUP), for the workers to apply (tenants/tenant-publish.ts). */
  tenantConfig: SharedArrayBuffer;
  /** Per worker: its figures per tenant slot (tenants/tenant-stats.ts), summed by the main thread. */
  tenantStats: SharedArrayBuffer[];
  /** The cluster view (ownership table, members' fabric addresses) the main thread publishes. */
  clusterView: SharedArrayBuffer;
  /** The fabric's keys after a rotation (SIGHUP), for worker 0's fabric (cluster/fabric-keys.ts). */
  fabricKeys: SharedArrayBuffer;
}

/** Bytes of each worker-to-worker ring: ~1,400 full-size or ~14,000 small packets in flight per pair. */
const HANDOFF_RING_BYTES = 2 << 20;

/**
 * The node's shared state, made once and mapped by every worker: the pool's block lessees, the block
 * table, the virtual-shard table (worker i owns shards s with s mod workers = i) and the rings.
 */
export function createPlatShards(
  engine: NatEngineConfigInput,
  workers: number,
  shardCount?: number,
): PlatShards {
  const engineConfig = validateConfig(engine);
  return {
    pool: createSharedPoolMemory(engineConfig),
    poolPorts: new SharedArrayBuffer(workers * engineConfig.poolAddressCount * Int32Array.BYTES_PER_ELEMENT),
    blocks: createBlockTableStorage(engineConfig),
    table: createShardTable({ memberCount: workers, shardCount }).toData(),
    handoff: createHandoffMemory(workers, () => createRingMemory(HANDOFF_RING_BYTES)),
    tenantBlocks: createTenantBlockCounts(),
    tenantConfig: createTenantConfigMemory(),
    tenantStats: Array.from({ length: workers }, () => createTenantStatsMemory()),
    clusterView: createClusterViewMemory(),
    fabricKeys: createFabricKeysMemory(),
  };
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
  'handoff.forwarded',
  'handoff.ringfull',
  'handoff.received',
  'handoff.fragments.steered',
  'handoff.fragments.unrouted',
  'icmp.errors.suppressed',
  // AF_XDP only (0 on a TUN): the outgoing links' MTUs the PLAT checks packets against.
  'link.mtu4',
  'link.mtu6',
  // Cluster mode (--state): 1 while this worker owns its shard; its epoch; packets it dropped while it
  // did not (standby, fenced); batches its standby folded; stale-epoch batches dropped; takeovers.
  'state.serving',
  'state.epoch',
  'state.notOwnerDrops',
  'state.standbyBatches',
  'state.staleEpochBatches',
  'state.takeovers',
  // Cluster mode: replication of the worker's shard (libs/telemetry maps them to xlat64.replication.*).
  // Owner: batches sealed and not yet acknowledged by JetStream and their bytes; each acknowledged
  // append's time (last, and the sum over `appendedBatches` for a mean); events acknowledged. Standby:
  // the apply lag of the last batch folded (apply time minus JetStream's store time), and its sum over
  // `standbyLagBatches`. The last takeover's time from the decision to serving.
  'replication.unackedBatches',
  'replication.unackedBytes',
  'replication.appendSecondsLast',
  'replication.appendSecondsSum',
  'replication.appendedBatches',
  'replication.appendedEvents',
  'replication.standbyLagSecondsLast',
  'replication.standbyLagSecondsSum',
  'replication.standbyLagBatches',
  'state.takeoverSeconds',
  // Cluster (cluster:): packets of other nodes' shards this worker passed to the fabric; the fabric's
  // counters (worker 0 only: accepted frames, drops by reason, sent, received, send-side drops).
  'cluster.remoteForwarded',
  'cluster.handovers',
  // Cluster state: times this worker, fenced (its record taken by a newer epoch, or an append refused),
  // dropped its replica and followed its shard again as a standby.
  'state.rejoins',
  // Cluster state: times this worker's owner could not renew its ownership record within its lease (cut
  // off from NATS: it makes no new mapping from then on, before a standby may take the shard over), and
  // 1 while that lasts.
  'state.leaseExpiries',
  'state.leaseLapsed',
  ...fabricGaugeNames,
  // Subscribers that cannot get one more session (at their session bound), and that hold their block
  // bound of some protocol; recounted once a second with the pool's ports (NatEngine.subscribersAtLimit).
  'nat.subscribersAtSessionLimit',
  'nat.subscribersAtBlockLimit',
  // Queue steering (several TUN queues): leases the program's block map had no room for (those blocks'
  // return traffic is routed by the worker that reads it, through the rings).
  'steering.blocksRefused',
];
const MAINTENANCE_INTERVAL_MS = 100;
/** How often a worker recounts its ports in use per pool address (a scan of its block table). */
const POOL_PORTS_INTERVAL_MS = 1000;

/**
 * The PLAT's counters and gauges. Per-tenant figures are not in it: they have their own rows per tenant
 * slot (tenants/tenant-stats.ts), so a tenant added while running is counted without a new layout.
 */
export function platCounterLayout(_tenants?: readonly TenantConfig[]) {
  return roleCounterLayout(platDropNames, platGaugeNames);
}

export const createQueueHandler: CreateQueueHandler = async (
  context: QueueContext,
): Promise<QueueHandler> => {
  const options = context.options as PlatQueueOptions;
  const layout = platCounterLayout(options.tenants);
  const counters = new Float64Array(options.counters[context.queueIndex]);
  const worker = context.queueIndex;
  const shards = options.shards ?? createPlatShards(options.engine, 1);
  const workers = shards.table.memberCount;
  const startMs = Date.now();
  const engineConfig = validateConfig(options.engine);
  // Tenants that delegate their own subscriber length: the engine, its replay and the routing key
  // subscribers by it (set before the store restores the state).
  const setSubscriberLengths = (
    tenants: readonly TenantConfig[] | null,
    table: TenantPrefixTable | undefined,
    slots?: number[],
  ) => {
    const lengths = tenants === null ? null : tenantSubscriberLengths(tenants, engineConfig, slots);
    if (lengths === null || table === undefined) engineConfig.subscriberLengths.set(null);
    else engineConfig.subscriberLengths.set(table, lengths);
    // The steering program hashes IPv6 only while no tenant sets its own length (a longest-prefix match).
    router.refreshSteering();
  };
  const router = new ShardRouter(ShardTable.fromData(shards.table), engineConfig, {
    blockStorage: shards.blocks,
  });
  // Several TUN queues with a steering program: the kernel queues each packet for its shard's owner,
  // from maps every worker's router keeps current (this worker's leases, the table, the hash).
  if (options.steering !== undefined) router.steer(TunSteering.of(options.steering), workers);
  const random = createCryptoRandom();
  // Tenants: the classification table the ingress step uses (replaced on SIGHUP), and with the embedded
  // state each subscriber leases only from its tenant's share of the pool, within its quotas.
  let tenantTable: TenantPrefixTable | undefined =
    options.tenants === undefined ? undefined : tenantPrefixTable(options.tenants);
  setSubscriberLengths(options.tenants ?? null, tenantTable);
  let allocator: SharedPoolAllocator | undefined;
  const poolShares =
    options.tenants === undefined || tenantTable === undefined
      ? null
      : tenantPoolShares(options.tenants, engineConfig, tenantTable, shards.tenantBlocks);
  const tenantStats = shards.tenantStats[worker];
  const tenantRow = new Float64Array(tenantStats);
  // Sessions per tenant (exact, for its sessionsMax) and each subscriber's tenant bound.
  let sessionShares =
    options.tenants === undefined || tenantTable === undefined
      ? null
      : tenantSessionShares(options.tenants, tenantTable, shards.tenantStats, worker);
  // Each worker thread has its own tracer provider (providers are per thread), registered before the
  // store opens so the recovery below is exported as one trace.
  const tracing: Tracing | null =
    options.tracesUrl === undefined
      ? null
      : startTracing({
          serviceName: 'xlat64-plat',
          otlpUrl: options.tracesUrl,
          resource: { 'xlat64.worker': worker, 'service.instance.id': `plat-${process.pid}-q${worker}` },
        });
  const prefix = parseRfc6052Prefix(options.translator.prefix);
  const gauge = platGaugeNames.map((name) => layout.index(name));

  /** What serves packets once this worker owns its shard: engine, shard pipeline, ingress step, batch I/O. */
  interface Serving {
    engine: NatEngine;
    pipeline: ShardPipeline;
    platStep: PlatStep;
    batch: BatchTranslator;
  }
  // Built bottom up, nothing circular: the engine, the shard pipeline over it, the ingress step that
  // hands it packets. Held-SYN expiry comes back as the engine's output, drained by advance().
  const serve = (
    state: NatState,
    sink: EventSink,
    allocator: (state: NatState, random: RandomSource) => PoolAllocator,
    epoch: number,
    nowMs: number,
  ) => {
    for (const event of leasedBlockEvents(state)) router.applyEvent(event);
    const engine = createNatEngine(options.engine, {
      sink: {
        push: (event) => {
          router.applyEvent(event); // the block table every worker routes IPv4 by
          sink.push(event);
        },
      },
      random,
      state,
      startMs: nowMs,
      shard: worker,
      epoch,
      allocator,
      // A hairpin to another worker's subscriber leaves as IPv4 to the pool address; the pool route into
      // the TUN brings it back, and the block table sends it to that worker.
      hairpinToOtherShards: shards.table.memberCount > 1,
      // A table bound reached: one line per bound per 10 s, to the role's output (the main thread's log).
      log: (line) => process.stdout.write(`plat: ${line}\n`),
      sessionShares,
    });
    engine.start(nowMs);
    const pipeline = new ShardPipeline(
      engine,
      {
        translator: options.translator,
        icmpSource4: parseIpv4(options.icmpSource4),
        icmpErrorsPerSecond: options.icmpErrorsPerSecond,
        icmpErrorsBurst: options.icmpErrorsBurst,
      },
      layout,
      prefix,
    );
    const platStep = new PlatStep(pipeline, layout, prefix, {
      allowNonGlobalIpv4: options.translator.allowNonGlobalIpv4,
      tenants: tenantTable,
      tenantStats,
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
    return { engine, pipeline, platStep, batch };
  };

  let serving: Serving | null = null;
  let store: EmbeddedNatStore | null = null;
  let cluster: ClusterShardState | null = null;
  // Cluster (cluster:): this worker's shard is table shard `worker`; it is taken only while the table names
  // this node its owner, and handed over (stop: final batch, snapshot, release) when a table moves it away.
  const nodeId = options.cluster?.nodeId;
  let tableOwnsShard = false;
  /** The version of the last cluster table this worker read (its ownership decisions follow it). */
  let tableVersion = 0;
  let handingOver = false;
  let handovers = 0;
  let rejoins = 0;
  /** Set by onStop: no re-open starts, and one in flight is stopped when it completes. */
  let stopping = false;
  /** When a worker without its cluster state (a failed re-open) tries again. */
  let reopenAtMs = 0;
  const openCluster = (nowMs: number) =>
    openClusterShardState(
      {
        state: options.state!,
        config: engineConfig,
        hashSeed: random.nextUint32(),
        shard: worker,
        flushIntervalMs: options.flushIntervalMs,
        snapshotTailBytes: options.snapshotTailBytes,
        onOwner: (state, sink, allocator, epoch) => {
          serving = serve(state, sink, () => allocator, epoch, Date.now());
        },
        onFenced: () => {
          serving = null;
        },
        onLeaseLapsed: (lapsed) => serving?.engine.refuseNewMappings(lapsed),
        mayTakeOver: options.cluster === undefined ? undefined : () => tableOwnsShard,
        // The blocks of the shard this worker follows as standby route the IPv4 that reaches this node for
        // them to the owner (over the fabric), as its own engine's events do for the shards it serves.
        onReplicaEvent: (event) => router.applyReplicaEvent(event, worker, workers),
        log: (line) => process.stdout.write(`plat: ${line}\n`),
        // Called once per batch in this thread, written into this worker's counter block (the main
        // thread's /metrics and status read it); never per packet.
        metrics: {
          appendAcked(_shard, ms, events) {
            counters[gauge[27]] = ms / 1000;
            counters[gauge[28]] += ms / 1000;
            counters[gauge[29]]++;
            counters[gauge[30]] += events;
          },
          standbyApplied(_shard, lagMs) {
            const seconds = Math.max(0, lagMs) / 1000;
            counters[gauge[31]] = seconds;
            counters[gauge[32]] += seconds;
            counters[gauge[33]]++;
          },
        },
      },
      nowMs,
    );
  if (options.state === undefined) {
    // Restores mappings and sessions written before a crash or stop (snapshot + log tail). One store per
    // worker (each engine is the only writer of its shards' events). A node of one worker keeps stateDir
    // itself; with several, each worker's store is under workers-<N>/ so a run with another worker count
    // (whose subscribers map to other workers) starts afresh instead of restoring onto the wrong owner.
    const directory =
      workers === 1 ? options.stateDir : join(options.stateDir, `workers-${workers}`, `q${worker}`);
    store = await EmbeddedNatStore.open(
      {
        directory,
        config: engineConfig,
        hashSeed: random.nextUint32(),
        shard: worker,
        flushIntervalMs: options.flushIntervalMs,
        tailBytesMin: options.snapshotTailBytes,
      },
      startMs,
    );
    // The restored blocks stay this worker's: claimed in the node's shared pool, routed to it.
    claimSharedPoolBlocks(shards.pool, worker, store.state);
    serving = serve(
      store.state,
      store.sink,
      (state, random) => {
        allocator = new SharedPoolAllocator(shards.pool, worker, state, random, poolShares);
        return allocator;
      },
      0,
      startMs,
    );
  } else {
    // Cluster mode: a standby of the worker's shard until it takes it over (then `serve` runs on the
    // replica, with blocks leased from Redis); the node's main thread adds the routes once every worker
    // serves (plat.ts).
    cluster = await openCluster(startMs);
  }

  // Packets passed to a worker that waits on its idle TUN queue wake it (libs/tun's wake eventfd).
  const handoff = new WorkerHandoff(shards.handoff, worker, router, context.vnetHdrBytes, context.wakeQueue);
  const translate = (buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number) => {
    if (serving !== null) serving.batch.onBatch(buffer, offsets, lengths, count);
    else counters[gauge[21]] += count;
  };
  // Routing runs on every packet when other workers or other nodes may own it.
  const routes = handoff.workers > 1 || options.cluster !== undefined;
  const viewReader = options.cluster === undefined ? null : new ClusterViewReader(shards.clusterView);
  const fabric =
    options.cluster !== undefined && worker === 0
      ? await PlatFabric.start(options.cluster, workers, context.vnetHdrBytes, handoff, translate)
      : null;
  handoff.setRemote(fabric);
  const fabricFd = fabric?.endpoint.fd ?? -1;
  handoff.forwardUnleasedBlocks = options.cluster !== undefined;
  const fabricBase = layout.index(fabricGaugeNames[0]);
  const gaugeRemote = layout.index('cluster.remoteForwarded');
  const gaugeHandovers = layout.index('cluster.handovers');
  const gaugeRejoins = layout.index('state.rejoins');
  const gaugeLeaseExpiries = layout.index('state.leaseExpiries');
  const gaugeLeaseLapsed = layout.index('state.leaseLapsed');
  const gaugeSteeringRefused = layout.index('steering.blocksRefused');
  let leaseExpiriesBefore = 0;
  /**
   * Serves nothing more, stops `leaving` (a handover's release, or a fenced store's end; `left` then
   * counts it) and follows the shard again as a standby. A failure (NATS down) is retried a second later
   * by rejoinAsStandby, which finds no store.
   */
  const followAgain = (leaving: ClusterShardState | null, left: () => void) => {
    // The leaving store's lease expiries, kept past its replacement.
    if (leaving !== null) leaseExpiriesBefore += leaving.store.status().leaseExpiries;
    handingOver = true;
    serving = null;
    cluster = null;
    void (async () => {
      try {
        if (leaving !== null) {
          await leaving.stop(Date.now());
          left();
        }
        const opened = await openCluster(Date.now());
        if (stopping) await opened.stop(Date.now());
        else cluster = opened;
      } catch (error) {
        reopenAtMs = Date.now() + 1000;
        process.stdout.write(
          `plat: shard ${worker}: cannot follow the shard yet: ${(error as Error).message}\n`,
        );
      } finally {
        handingOver = false;
      }
    })();
  };
  /** A newer cluster view: the routing table, the fabric's members and epochs, this shard's owner. */
  const followCluster = () => {
    if (viewReader === null || nodeId === undefined) return;
    const view = viewReader.poll();
    if (view !== undefined) {
      const routing = routingTableOf(view.table, nodeId, workers, shards.table.owner.length);
      if (routing.version > router.table.version) router.setTable(routing);
      fabric?.setView(view, nodeId);
      tableOwnsShard = view.table.members[view.table.owner[worker]] === nodeId;
      tableVersion = view.table.version;
    }
    // Checked at every maintenance, not only when a table arrives: one that came while this worker was
    // still taking the shard over (or handing it over) would otherwise never move it, and the owner the
    // table names would wait behind a record this worker keeps renewing.
    if (!tableOwnsShard && cluster !== null && cluster.store.role === 'owner' && !handingOver && !stopping) {
      // A graceful handover: no more packets here, last batch and snapshot, record released; the new
      // owner's standby takes it at once (free record, its table names it). This worker follows as standby.
      const version = tableVersion;
      followAgain(cluster, () => {
        handovers++;
        process.stdout.write(`plat: shard ${worker}: handed over (table v${version})\n`);
      });
    }
  };
  let lastMaintenanceMs = startMs;
  // Tenants changed while running: new classification and pool shares from the next packet on.
  const tenantChanges = new TenantConfigReader(shards.tenantConfig);
  const fabricKeyChanges = new FabricKeysReader(shards.fabricKeys);
  const applyTenants = (published: PublishedTenants) => {
    if (published.tenants === null) {
      setSubscriberLengths(null, undefined);
      tenantTable = undefined;
      sessionShares = null;
      serving?.platStep.setTenants(undefined);
      serving?.engine.setSessionShares(null);
      allocator?.setShares(null);
      return;
    }
    const table = tenantPrefixTable(published.tenants, published.slots);
    setSubscriberLengths(published.tenants, table, published.slots);
    tenantTable = table;
    sessionShares = tenantSessionShares(
      published.tenants,
      table,
      shards.tenantStats,
      worker,
      published.slots,
    );
    serving?.platStep.setTenants(table);
    serving?.engine.setSessionShares(sessionShares);
    allocator?.setShares(
      tenantPoolShares(published.tenants, engineConfig, table, shards.tenantBlocks, published.slots),
    );
  };
  let lastFlushMs = startMs;
  let lastPoolPortsMs = 0;
  const addresses = engineConfig.poolAddressCount;
  const poolPorts = new Int32Array(shards.poolPorts, worker * addresses * 4, addresses);
  const poolPortsScratch = new Int32Array(addresses);
  const atLimit = new Int32Array(2);
  const gaugeAtSessionLimit = layout.index('nat.subscribersAtSessionLimit');
  const gaugeAtBlockLimit = layout.index('nat.subscribersAtBlockLimit');
  // With AF_XDP the PLAT's output goes on the wire with no kernel forwarding after it: it is the
  // router, so it answers Packet Too Big / fragmentation needed (and fragments) for the outgoing
  // link's MTU itself, followed as the operator changes it. Through a TUN the kernel does that.
  const linkMtu = (context as Partial<XdpQueueContext>).linkMtu;
  let linkMtu4 = 0;
  let linkMtu6 = 0;
  let mtusOf: Serving | null = null;
  const followLinkMtus = () => {
    const s = serving;
    if (!linkMtu || s === null) return;
    const mtu4 = Math.min(options.mtu4, linkMtu(4) || options.mtu4);
    const mtu6 = Math.max(1280, Math.min(options.mtu6, linkMtu(6) || options.mtu6));
    if (mtu4 === linkMtu4 && mtu6 === linkMtu6 && mtusOf === s) return;
    s.pipeline.setLinkMtus(Math.max(68, mtu4), mtu6);
    linkMtu4 = mtu4;
    linkMtu6 = mtu6;
    mtusOf = s;
    counters[gauge[17]] = mtu4;
    counters[gauge[18]] = mtu6;
  };
  followLinkMtus();

  // Subscribers per tenant slot, recounted with the pool ports (a scan of the subscriber rows).
  const subscribersScratch = new Float64Array(TENANTS_MAX);
  const countTenantSubscribers = (state: NatState) => {
    const table = tenantTable;
    subscribersScratch.fill(0);
    if (table !== undefined) {
      const p = state.subscriberPrefix;
      for (let sub = 0; sub < engineConfig.subscribersMax; sub++) {
        if (state.subscriberUsed[sub] === 0) continue;
        const slot = table.lookupWords(p[sub * 4] | 0, p[sub * 4 + 1] | 0);
        if (slot >= 0) subscribersScratch[slot]++;
      }
    }
    for (let slot = 0; slot < TENANTS_MAX; slot++)
      tenantRow[slot * TENANT_STAT_ENTRIES + TenantStat.subscribers] = subscribersScratch[slot];
  };

  // A fenced worker served state the log may not hold (its record went to a newer epoch, or its append was
  // refused): it drops its replica and follows the shard again from the snapshot and the log, as a standby
  // that can take over later. Without this, a fenced node stayed useless until restarted, and a cluster
  // whose nodes had each been fenced once served nothing. A failed re-open (NATS down) is retried.
  const rejoinAsStandby = (nowMs: number) => {
    if (options.state === undefined || handingOver || stopping) return;
    const fenced = cluster !== null && cluster.store.role === 'fenced';
    if (!fenced && (cluster !== null || nowMs < reopenAtMs)) return;
    followAgain(cluster, () => {
      rejoins++;
      process.stdout.write(`plat: shard ${worker}: fenced; following it again as a standby\n`);
    });
  };

  const maintain = (nowMs: number) => {
    followCluster();
    const published = tenantChanges.poll();
    if (published !== undefined) applyTenants(published);
    const keys = fabric === null ? undefined : fabricKeyChanges.poll();
    if (keys !== undefined) {
      fabric?.setKeys(keys.keys, keys.currentKeyId);
      process.stdout.write(
        `plat: fabric keys now ${keys.keys.map((k) => k.id).join(', ')}, sending with ${keys.currentKeyId ?? keys.keys[keys.keys.length - 1].id}\n`,
      );
    }
    followLinkMtus();
    const s = serving;
    if (s !== null) {
      s.pipeline.advance(nowMs);
      if (nowMs - lastFlushMs >= options.flushIntervalMs) {
        s.engine.flush(nowMs);
        lastFlushMs = nowMs;
      }
    }
    store?.tick(nowMs);
    cluster?.tick(nowMs);
    rejoinAsStandby(nowMs);
    if (s !== null) {
      for (const reply of s.pipeline.pendingReplies) s.batch.enqueue(reply);
      s.pipeline.pendingReplies.length = 0;
      s.batch.flush();
      const state = s.engine.state;
      counters[gauge[0]] = state.sessionCount;
      counters[gauge[1]] = state.mappingCount;
      counters[gauge[2]] = state.leasedBlockCount;
      counters[gauge[3]] = state.subscriberCount;
      counters[gauge[4]] = s.pipeline.heldCount;
      counters[gauge[16]] = s.pipeline.icmpErrorsSuppressed;
      if (nowMs - lastPoolPortsMs >= POOL_PORTS_INTERVAL_MS) {
        countTenantSubscribers(state);
        // Counted aside, then copied: the main thread never reads a half-zeroed row.
        portsInUseByAddress(state, poolPortsScratch);
        poolPorts.set(poolPortsScratch);
        s.engine.subscribersAtLimit(atLimit);
        counters[gaugeAtSessionLimit] = atLimit[0];
        counters[gaugeAtBlockLimit] = atLimit[1];
        lastPoolPortsMs = nowMs;
      }
    }
    if (store !== null) {
      const status = store.status();
      counters[gauge[5]] = status.batcher.bufferedEvents;
      counters[gauge[6]] = status.batcher.refusedEvents;
      counters[gauge[7]] = status.batcher.appendFailures;
      // The log misses events (refused at the buffer bound, until the next snapshot) or another writer owns it.
      counters[gauge[8]] =
        status.batcher.state === 'unreplicated' || status.batcher.state === 'fenced' ? 1 : 0;
      counters[gauge[9]] = status.snapshots;
      counters[gauge[10]] = store.recovery.sessions;
    }
    // Between a fence (or a handover) and the re-opened standby, this worker serves nothing.
    if (cluster === null && options.state !== undefined) counters[gauge[19]] = 0;
    if (cluster !== null) {
      const status = cluster.store.status();
      const b = status.batcher;
      counters[gauge[5]] = b?.bufferedEvents ?? 0;
      counters[gauge[6]] = b?.refusedEvents ?? 0;
      counters[gauge[7]] = b?.appendFailures ?? 0;
      counters[gauge[8]] = b !== null && (b.state === 'unreplicated' || b.state === 'fenced') ? 1 : 0;
      counters[gauge[9]] = status.snapshots;
      counters[gauge[19]] = status.role === 'owner' && serving !== null ? 1 : 0;
      counters[gauge[20]] = status.epoch;
      counters[gauge[22]] = cluster.store.follower.counters.appliedBatches;
      counters[gauge[23]] = status.staleEpochBatches;
      counters[gauge[24]] = status.takeovers;
      counters[gauge[25]] = b === null ? 0 : b.sealedSequence - b.ackedSequence;
      counters[gauge[26]] = b?.bufferedBytes ?? 0;
      counters[gauge[34]] = status.lastTakeoverMs / 1000;
      counters[gaugeLeaseExpiries] = leaseExpiriesBefore + status.leaseExpiries;
      counters[gaugeLeaseLapsed] = status.leaseLapsed ? 1 : 0;
    }
    const h = handoff.counters;
    counters[gauge[11]] = h.forwarded;
    counters[gauge[12]] = h.ringFull;
    counters[gauge[13]] = h.received;
    counters[gauge[14]] = h.fragmentsSteered;
    counters[gauge[15]] = h.fragmentsUnrouted;
    counters[gaugeRemote] = handoff.remoteForwarded;
    counters[gaugeSteeringRefused] = router.steeringBlocksRefused;
    counters[gaugeHandovers] = handovers;
    counters[gaugeRejoins] = rejoins;
    fabric?.writeCounters(counters, fabricBase);
    lastMaintenanceMs = nowMs;
  };

  return {
    onBatch(buffer, offsets, lengths, count) {
      const nowMs = Date.now();
      const s = serving;
      if (s !== null) s.platStep.setNow(nowMs);
      const kept = routes ? handoff.splitBatch(buffer, offsets, lengths, count, nowMs) : count;
      if (kept > 0) translate(buffer, offsets, lengths, kept);
      if (handoff.workers > 1) handoff.drain(translate, nowMs);
      if (nowMs - lastMaintenanceMs >= MAINTENANCE_INTERVAL_MS) maintain(nowMs);
    },
    onIdle() {
      const nowMs = Date.now();
      serving?.platStep.setNow(nowMs);
      if (handoff.workers > 1) handoff.drain(translate, nowMs);
      // Without a wake (AF_XDP queues) a worker of several polls every millisecond; timers need 100 ms.
      if (handoff.workers === 1 || nowMs - lastMaintenanceMs >= MAINTENANCE_INTERVAL_MS) maintain(nowMs);
    },
    onWake() {
      // Another worker passed packets while this one's TUN queue was idle.
      const nowMs = Date.now();
      serving?.platStep.setNow(nowMs);
      handoff.drain(translate, nowMs);
      if (nowMs - lastMaintenanceMs >= MAINTENANCE_INTERVAL_MS) maintain(nowMs);
    },
    hasWork() {
      return handoff.workers > 1 && handoff.hasIncoming();
    },
    // Worker 0 of a cluster node reads the fabric socket on its event loop: its frames end a TUN wait.
    socketFd() {
      return fabricFd;
    },
    onSocket() {
      // Frames waiting on the fabric socket, read in one recvmmsg rather than one 'message' event each.
      // An owner that gets everything over the fabric may never see its TUN wait time out (onIdle), so
      // its timers (state ticks: appends, renewals) are due here as in onBatch.
      const nowMs = Date.now();
      serving?.platStep.setNow(nowMs);
      fabric?.endpoint.receiveBatch();
      handoff.publish();
      if (handoff.workers > 1) handoff.drain(translate, nowMs);
      if (nowMs - lastMaintenanceMs >= MAINTENANCE_INTERVAL_MS) maintain(nowMs);
    },
    async onStop() {
      stopping = true;
      // A handover or a rejoin in flight ends first (its re-opened state is stopped as it completes).
      for (let i = 0; i < 200 && handingOver; i++) await new Promise((r) => setTimeout(r, 50));
      const nowMs = Date.now();
      serving?.engine.flush(nowMs);
      await store?.stop(nowMs);
      await cluster?.stop(nowMs);
      await fabric?.stop();
      await tracing?.shutdown();
    },
  };
};
