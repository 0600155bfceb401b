// The cluster plane of a PLAT node, in the main thread (issue 10, services/cluster README "How the PLAT
// uses this"): heartbeats in NATS KV (Membership), the ownership table (rendezvous hashing, compare-and-set
// in NATS KV) published by every node on every membership change, and watched: each stored version, with
// the members' fabric addresses, goes to the workers through shared memory (cluster-view.ts), where it
// becomes their routing table and the fabric's view. Nodes route from the table, never from membership.
// A fabric frame of a newer epoch than this node's table (a peer already follows a newer table, the watch
// here lags or lost it) makes the plane read the stored table at once rather than wait for the watch.
import type { NatsConnection } from '@nats-io/transport-node';
import {
  type FabricPeer,
  type MemberRecord,
  Membership,
  type OwnershipTable,
  OwnershipTableStore,
  ownerOf,
} from '../../../cluster/src/index.js';
import { connectNats } from '../../../state/src/index.js';
import type { PlatStateConfig } from '../plat-state-config.js';
import { publishClusterView } from './cluster-view.js';
import type { PlatClusterConfig } from './plat-cluster-config.js';

export interface ClusterPlane {
  /** For `xlat64 status` details: table version, members, owner of each table shard. */
  status(): Record<string, unknown>;
  stop(): Promise<void>;
}

/** How often the plane looks at the workers' `fabric.drop.epoch-newer` count. */
const EPOCH_NEWER_CHECK_MS = 100;

export async function startClusterPlane(
  cluster: PlatClusterConfig,
  state: PlatStateConfig,
  workers: number,
  viewMemory: SharedArrayBuffer,
  log: (line: string) => void,
  /** Frames dropped so far because their epoch was newer than this node's table (the workers' counters). */
  epochNewerDrops: () => number = () => 0,
): Promise<ClusterPlane> {
  const nc: NatsConnection = await connectNats({ url: state.nats, name: `xlat64-${cluster.nodeId}-cluster` });
  const { host, port } = cluster.fabric;
  const fabricAddress = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  let membership: Membership | null = null;
  let watch: { stop(): void } | null = null;
  let epochTimer: NodeJS.Timeout | null = null;
  try {
    const store = await OwnershipTableStore.open(nc, { shardCount: workers });
    /** Fabric addresses of every member ever seen (a table may name a member before its heartbeat arrives here). */
    const addresses = new Map<string, FabricPeer>();
    let latest: OwnershipTable | null = null;
    let publishes = 0;
    let publishFailures = 0;
    const learn = (records: readonly MemberRecord[]) => {
      for (const r of records) {
        const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(r.fabricAddress);
        if (m !== null) addresses.set(r.nodeId, { nodeId: r.nodeId, host: m[1], port: Number(m[2]) });
      }
    };
    const toWorkers = () => {
      if (latest === null) return;
      const peers = latest.members.flatMap((id) => {
        const peer = addresses.get(id);
        return peer === undefined ? [] : [peer];
      });
      publishClusterView(viewMemory, { table: latest, peers });
    };
    // Publishes for the live members, one at a time; a change while publishing publishes again after.
    let publishing = false;
    let again = false;
    const publish = async () => {
      if (publishing) {
        again = true;
        return;
      }
      publishing = true;
      try {
        do {
          again = false;
          const members = membership?.members().map((m) => m.nodeId) ?? [];
          if (members.length === 0) continue;
          try {
            const result = await store.publish(members);
            publishes += result.wrote ? 1 : 0;
          } catch (error) {
            publishFailures++;
            log(`plat: cluster: publishing the ownership table failed: ${(error as Error).message}`);
          }
        } while (again);
      } finally {
        publishing = false;
      }
    };
    /** Installs a stored table newer than the one the workers have (from the watch or a read). */
    const install = (table: OwnershipTable, how: string) => {
      if (latest !== null && table.version <= latest.version) return false;
      latest = table;
      toWorkers();
      const owners = Array.from(
        { length: table.shardCount },
        (_, s) => `${s}:${ownerOf(table, s)}@${table.epoch[s]}`,
      );
      log(
        `plat: cluster: table v${table.version}${how} [${table.members.join(',')}] shards ${owners.join(' ')}`,
      );
      return true;
    };
    watch = await store.watch(
      ({ table }) => install(table, ''),
      (error) => log(`plat: cluster: ${error.message}`),
    );
    // A frame of a newer epoch: read the stored table now (one read at a time, at most one per check).
    let tableReads = 0;
    let tableReadsNewer = 0;
    let seenEpochNewer = epochNewerDrops();
    let reading = false;
    epochTimer = setInterval(() => {
      const now = epochNewerDrops();
      if (now === seenEpochNewer || reading) return;
      seenEpochNewer = now;
      reading = true;
      tableReads++;
      store
        .read()
        .then((stored) => {
          if (stored !== null && install(stored.table, ' (read after a frame of a newer epoch)'))
            tableReadsNewer++;
        })
        .catch((error: Error) => log(`plat: cluster: reading the ownership table failed: ${error.message}`))
        .finally(() => {
          reading = false;
        });
    }, EPOCH_NEWER_CHECK_MS);
    membership = await Membership.start(nc, {
      nodeId: cluster.nodeId,
      fabricAddress,
      detectionMs: cluster.detectionMs,
    });
    membership.onChange((change) => {
      learn(change.members);
      log(
        `plat: cluster: members [${change.members.map((m) => m.nodeId).join(',')}]` +
          (change.joined.length > 0 ? ` joined ${change.joined.join(',')}` : '') +
          (change.left.length > 0 ? ` left ${change.left.join(',')}` : ''),
      );
      toWorkers();
      void publish();
    });
    log(
      `plat: cluster: node ${cluster.nodeId}, fabric ${fabricAddress}, detection ${cluster.detectionMs} ms`,
    );
    const started = membership;
    const watching = watch;
    return {
      status() {
        const t = latest;
        return {
          nodeId: cluster.nodeId,
          fabric: fabricAddress,
          members: started.members().map((m) => m.nodeId),
          tableVersion: t?.version ?? 0,
          owners: t === null ? [] : Array.from({ length: t.shardCount }, (_, s) => ownerOf(t, s)),
          epochs: t === null ? [] : Array.from(t.epoch),
          tablePublishes: publishes,
          tablePublishFailures: publishFailures,
          tableCasConflicts: store.casConflicts,
          heartbeatFailures: started.heartbeatFailures,
          tableReads,
          tableReadsNewer,
        };
      },
      async stop() {
        if (epochTimer !== null) clearInterval(epochTimer);
        watching.stop();
        await started.stop(true);
        await nc.close();
      },
    };
  } catch (error) {
    if (epochTimer !== null) clearInterval(epochTimer);
    watch?.stop();
    await membership?.stop(false).catch(() => {});
    await nc.close().catch(() => {});
    throw error;
  }
}
