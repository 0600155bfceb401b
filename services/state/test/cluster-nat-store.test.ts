// Cluster mode of a shard against a real nats-server (JetStream + KV): the owner renews its record, a
// standby takes over once it stops moving, of two standbys exactly one wins the compare-and-set, a former
// owner that appends in the middle of a takeover has its batch folded in (not lost) and then every later
// append of it is refused, and an old owner that comes back is fenced and stops appending.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTracing } from '../../../libs/telemetry/src/index.js';
import {
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  EngineVerdict,
  type NatEngine,
  type NatEvent,
  NatEventType,
  Protocol,
  TcpFlag,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { ClusterNatStore, type ClusterNatStoreOptions } from '../src/cluster-nat-store.js';
import { JetStreamEventLog } from '../src/jetstream-log.js';
import { connectNats } from '../src/nats-connection.js';
import { ShardOwnership } from '../src/ownership.js';

const INPUT = { pool: ['203.0.113.0/30'], sessionsMax: 4096, subscribersMax: 128 };
const CONFIG = validateConfig(INPUT);
const SHARD = 3;
const connections: NatsConnection[] = [];
let url: string;

beforeAll(() => {
  url = inject('natsUrl');
});
afterAll(async () => {
  for (const nc of connections) await nc.close();
});

interface Node {
  name: string;
  nc: NatsConnection;
  log: JetStreamEventLog;
  ownership: ShardOwnership;
  store: ClusterNatStore;
  engine: () => NatEngine;
}

/** One PLAT node's view of the shard: its own NATS connection, log instance, ownership handle and store. */
async function node(
  name: string,
  id: string,
  nowMs: number,
  detectionMs = 400,
  more: Pick<ClusterNatStoreOptions, 'mayTakeOver' | 'onReplicaEvent' | 'onLeaseLapsed'> = {},
): Promise<Node> {
  const nc = await connectNats({ url, name });
  connections.push(nc);
  const log = await JetStreamEventLog.open(nc, {
    stream: `C_${id}`,
    subjectPrefix: `c.${id}`,
    snapshotBucket: `csnap-${id}`,
  });
  const ownership = await ShardOwnership.open(nc, name, `cown-${id}`);
  let engine: NatEngine | null = null;
  const store: ClusterNatStore = await ClusterNatStore.open(
    {
      log,
      ownership,
      config: CONFIG,
      hashSeed: 7,
      shard: SHARD,
      flushIntervalMs: 10,
      detectionMs,
      renewIntervalMs: 50,
      ...more,
      onOwner: (state, epoch) => {
        engine = createNatEngine(INPUT, {
          sink: store.sink,
          random: createSeededRandom(name.length),
          state,
          startMs: nowMs,
          shard: SHARD,
          epoch,
        });
      },
    },
    nowMs,
  );
  return {
    name,
    nc,
    log,
    ownership,
    store,
    engine: () => {
      if (engine === null) throw new Error(`${name} does not own the shard`);
      return engine;
    },
  };
}

function flow(sub: number, port: number) {
  const key = createFlowKey6();
  key.protocol = Protocol.Udp;
  key.src6.set([0x20010db8, sub << 8, 0, 1]);
  key.srcPort = port;
  key.dst4 = 0xc6336402;
  key.dstPort = 443;
  key.tcpFlags = TcpFlag.Syn;
  return key;
}

/** Translates a flow on `n`'s engine; returns its IPv4 address:port. */
function translate(n: Node, sub: number, port: number, nowMs: number): string {
  const engine = n.engine();
  expect(engine.outbound6(flow(sub, port), nowMs)).toBe(EngineVerdict.Translate);
  return `${engine.result.v4Src}:${engine.result.v4SrcPort}`;
}

/** Ticks the given nodes on a shared clock until `done` holds. */
async function tickUntil(nodes: Node[], clock: { ms: number }, done: () => boolean, what: string) {
  for (let i = 0; i < 2000; i++) {
    if (done()) return;
    clock.ms += 10;
    for (const n of nodes) n.store.tick(clock.ms);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(nodes.map((n) => n.store.status()))}`);
}

async function flushed(n: Node, clock: { ms: number }) {
  n.engine().flush(clock.ms);
  const target = () => n.store.status().batcher!;
  await tickUntil([n], clock, () => target().bufferedEvents === 0 || target().state === 'fenced', 'a flush');
}

/** Every batch of the shard in the stream: (sequence, epoch). */
async function batchesOf(log: JetStreamEventLog): Promise<{ sequence: number; epoch: number }[]> {
  const out: { sequence: number; epoch: number }[] = [];
  log.forget(SHARD);
  for await (const b of log.read(SHARD, 0)) out.push({ sequence: b.sequence, epoch: b.epoch });
  return out;
}

describe('cluster shard store (NATS JetStream + KV)', () => {
  it('of two standbys exactly one takes over a dead owner; the other stays standby; flows keep their address and port', async () => {
    // Proves the takeover race between two standbys is decided by KV compare-and-set: one owner, one
    // conflict, and the winner serves the dead owner's flow with the same IPv4 address and port.
    const id = randomUUID().slice(0, 8);
    const clock = { ms: 1000 };
    const a = await node('node-a', id, clock.ms);
    await tickUntil([a], clock, () => a.store.role === 'owner', 'a to take the free shard');
    const before = translate(a, 1, 5000, clock.ms);
    await flushed(a, clock);

    const b = await node('node-b', id, clock.ms);
    const c = await node('node-c', id, clock.ms);
    // a keeps renewing: neither standby takes over while it lives.
    await tickUntil([a, b, c], clock, () => clock.ms > 3000, 'two detection times with a live owner');
    expect([b.store.role, c.store.role]).toEqual(['standby', 'standby']);

    // a dies (no more ticks: no renewals). Both standbys act on the same record at once: the
    // compare-and-set lets exactly one through.
    const probe = await ShardOwnership.open(connections.at(-1)!, 'probe', `cown-${id}`);
    const seen = await probe.find(SHARD);
    const won = await Promise.all([b.store.takeOver(seen, clock.ms), c.store.takeOver(seen, clock.ms)]);
    expect(won.filter(Boolean)).toHaveLength(1);
    const [winner, loser] = won[0] ? [b, c] : [c, b];
    expect(winner.store.role).toBe('owner');
    expect(winner.store.epoch).toBe(2);
    expect(loser.store.role).toBe('standby');
    expect(loser.store.status().takeoverConflicts).toBe(1);
    // Afterwards the winner renews and the loser, watching, never takes the shard.
    await tickUntil([b, c], clock, () => clock.ms > 6000, 'two more detection times');
    expect(winner.store.role).toBe('owner');
    expect(loser.store.role).toBe('standby');
    expect(loser.store.status().batcher).toBeNull(); // it never had anything to append with
    expect(translate(winner, 1, 5000, clock.ms)).toBe(before);

    await a.store.stop(clock.ms);
    await b.store.stop(clock.ms);
    await c.store.stop(clock.ms);
  });

  it('an owner cut off from NATS makes no new mapping before the standby may take over; the standby serves the same mappings', async () => {
    // Proves the lease: a node that cannot renew its record (here its connection is gone; in a partition
    // its requests time out) lapses leaseMs after it sent its last renewal that went through, while the
    // standby waits detectionMs after it saw that renewal. From the lapse on the old owner makes no new
    // mapping (its existing flows go on): at no tick can both nodes make mappings for the shard, and the
    // standby serves the old owner's flow with the same IPv4 address and port.
    const id = randomUUID().slice(0, 8);
    const clock = { ms: 1000 };
    const lapses: boolean[] = [];
    const a = await node('node-a', id, clock.ms, 400, { onLeaseLapsed: (lapsed) => lapses.push(lapsed) });
    await tickUntil([a], clock, () => a.store.role === 'owner', 'a to own the shard');
    const before = translate(a, 5, 5000, clock.ms);
    await flushed(a, clock);
    const b = await node('node-b', id, clock.ms);
    await tickUntil([a, b], clock, () => clock.ms > 2500, 'a few detection times with a live owner');
    expect(b.store.role).toBe('standby');
    expect(lapses).toEqual([]);

    await a.nc.close(); // a can no longer reach NATS; it still ticks and serves
    let lapsedAt = -1;
    let ownedAt = -1;
    let bothMakingMappings = 0;
    await tickUntil(
      [a, b],
      clock,
      () => {
        const aMakes = a.store.role === 'owner' && !a.store.status().leaseLapsed;
        if (aMakes && b.store.role === 'owner') bothMakingMappings++;
        if (lapsedAt < 0 && a.store.status().leaseLapsed) lapsedAt = clock.ms;
        if (ownedAt < 0 && b.store.role === 'owner') ownedAt = clock.ms;
        return ownedAt >= 0;
      },
      'b to take the shard over',
    );
    expect(bothMakingMappings, 'ticks at which both nodes could make mappings').toBe(0);
    expect(lapsedAt).toBeGreaterThan(0);
    expect(lapsedAt).toBeLessThan(ownedAt);
    expect(lapses).toEqual([true]);
    expect(a.store.status()).toMatchObject({ role: 'owner', leaseLapsed: true, leaseExpiries: 1 });
    // What a serves and what b serves agree: the same mapping for the flow both know.
    expect(translate(a, 5, 5000, clock.ms)).toBe(before);
    expect(translate(b, 5, 5000, clock.ms)).toBe(before);
    await b.store.stop(clock.ms);
  });

  it('a lapsed lease ends with the next renewal that goes through: new mappings again, no takeover', async () => {
    // Proves the other side: NATS unreachable for everyone (no standby can take over either) costs the
    // owner only its new mappings for the outage; once a renewal goes through it is the owner as before.
    const id = randomUUID().slice(0, 8);
    const clock = { ms: 1000 };
    const lapses: boolean[] = [];
    const a = await node('node-a', id, clock.ms, 400, { onLeaseLapsed: (lapsed) => lapses.push(lapsed) });
    await tickUntil([a], clock, () => a.store.role === 'owner', 'a to own the shard');
    // a's renewals fail as if NATS were down (unreachable, not fenced).
    const renew = a.ownership.renew.bind(a.ownership);
    let down = true;
    a.ownership.renew = (lease, nowMs) =>
      down ? Promise.reject(new Error('TIMEOUT (test: NATS unreachable)')) : renew(lease, nowMs);
    await tickUntil([a], clock, () => a.store.status().leaseLapsed, 'the lease to lapse');
    expect(lapses).toEqual([true]);
    down = false;
    await tickUntil([a], clock, () => !a.store.status().leaseLapsed, 'a renewal to go through');
    expect(lapses).toEqual([true, false]);
    expect(a.store.status()).toMatchObject({ role: 'owner', epoch: 1, leaseExpiries: 1 });
    expect(a.store.status().renewFailures).toBeGreaterThan(0);
    await a.store.stop(clock.ms);
  });

  it('folds a batch the former owner appends mid-takeover, then fences every later append of it', async () => {
    // Proves the takeover race of issue 9 is handled, not just documented: the old owner appends between
    // the new owner's catch-up and its epoch-start batch; that append is kept (its flow survives on the
    // new owner with the same address), the epoch batch lands after it, and the old owner's next append is
    // refused (fenced, counted), so the stream holds no old-epoch batch after the new epoch starts.
    const id = randomUUID().slice(0, 8);
    const clock = { ms: 1000 };
    const a = await node('node-a', id, clock.ms);
    await tickUntil([a], clock, () => a.store.role === 'owner', 'a to own the shard');
    translate(a, 1, 5000, clock.ms);
    await flushed(a, clock);
    const b = await node('node-b', id, clock.ms);

    // The race, made deterministic: just before b's first epoch-start append, a (paused, still thinking
    // it owns the shard) translates a new flow and appends its batch.
    let raced = '';
    const append = b.log.append.bind(b.log);
    b.log.append = async (batch) => {
      if (raced === '' && batch.eventCount === 0) {
        raced = translate(a, 2, 6000, clock.ms);
        await flushed(a, clock);
      }
      return append(batch);
    };
    const record = await (await ShardOwnership.open(connections.at(-1)!, 'probe', `cown-${id}`)).find(SHARD);
    expect(await b.store.takeOver(record, clock.ms)).toBe(true);
    expect(raced).not.toBe('');
    const status = b.store.status();
    expect(status.role).toBe('owner');
    expect(status.takeoverRaces).toBe(1);
    // The raced flow is in the new owner's state: same IPv4 address and port.
    expect(translate(b, 2, 6000, clock.ms)).toBe(raced);

    // a comes back: its next append is refused and it stops serving; its renewal is fenced too.
    translate(a, 3, 7000, clock.ms);
    a.engine().flush(clock.ms);
    await tickUntil([a], clock, () => a.store.role === 'fenced', 'the old owner to be fenced');
    // Whatever a still holds, an append of its epoch is refused by the stream.
    const next = a.store.status().batcher!.ackedSequence + 1;
    await expect(
      a.log.append({ shard: SHARD, epoch: 1, sequence: next, eventCount: 1, payload: new Uint8Array([1]) }),
    ).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
    expect(a.log.fencedAppends).toBeGreaterThanOrEqual(1);
    await flushed(b, clock);
    const batches = await batchesOf(b.log);
    const epochStart = batches.findIndex((x) => x.epoch === 2);
    expect(epochStart).toBeGreaterThan(0);
    expect(batches.slice(epochStart).every((x) => x.epoch === 2)).toBe(true);
    expect(batches.map((x) => x.sequence)).toEqual(batches.map((_, i) => i + 1));

    await a.store.stop(clock.ms);
    await b.store.stop(clock.ms);
  });

  it('a clean stop releases the shard: the standby takes it at once and serves the same mapping', async () => {
    // Proves the graceful handover: stop drains, snapshots into the Object Store and releases the record,
    // so the standby needs no detection time, and a node started afterwards restores the snapshot.
    const id = randomUUID().slice(0, 8);
    const clock = { ms: 1000 };
    const a = await node('node-a', id, clock.ms);
    await tickUntil([a], clock, () => a.store.role === 'owner', 'a to own the shard');
    const before = translate(a, 4, 5000, clock.ms);
    // b would wait ~forever for a silent owner: only the release lets it in.
    const b = await node('node-b', id, clock.ms, 1e9);
    a.engine().flush(clock.ms);
    await a.store.stop(clock.ms);
    await tickUntil([b], clock, () => b.store.role === 'owner', 'b to take the released shard');
    expect(translate(b, 4, 5000, clock.ms)).toBe(before);
    await b.store.stop(clock.ms);
    expect(b.store.status().snapshots).toBe(1);
    const c = await node('node-c', id, clock.ms);
    expect(c.store.state.sessionCount).toBeGreaterThanOrEqual(1); // from b's final snapshot
    await c.store.stop(clock.ms);
  });

  it("a standby tells its replica's port blocks: the restored snapshot's first, then each lease it folds", async () => {
    // Proves what a cluster node routes other nodes' IPv4 return traffic by: a node that opens as standby
    // hears the blocks of the snapshot it restored before any batch, then the owner's new leases as it
    // folds them, each naming the block the owner's mapping uses and the subscriber holding it.
    const id = randomUUID().slice(0, 8);
    const clock = { ms: 1000 };
    const a = await node('node-a', id, clock.ms);
    await tickUntil([a], clock, () => a.store.role === 'owner', 'a to own the shard');
    const first = translate(a, 4, 5000, clock.ms);
    a.engine().flush(clock.ms);
    await a.store.stop(clock.ms); // final batch, snapshot, release
    const heard: NatEvent[] = [];
    const b = await node('node-b', id, clock.ms, 1e9, {
      mayTakeOver: () => false,
      onReplicaEvent: (event) => heard.push(event),
    });
    const leases = () =>
      heard.filter((e) => e.type === NatEventType.BlockLeased) as Extract<
        NatEvent,
        { type: typeof NatEventType.BlockLeased }
      >[];
    const holds = (mapping: string, sub: number) =>
      leases().some((e) => {
        const [address, port] = mapping.split(':').map(Number);
        return (
          e.protocol === 1 &&
          e.address === address &&
          port >= e.firstPort &&
          port < e.firstPort + CONFIG.blockSizePorts &&
          e.subscriber[0] === 0x20010db8 &&
          e.subscriber[1] === sub << 8
        );
      });
    expect(holds(first, 4), `restored blocks told at open: ${JSON.stringify(heard)}`).toBe(true);
    expect(b.store.follower.counters.appliedBatches, 'before any batch was folded').toBe(0);
    // A new owner leases a block for another subscriber: the standby tells it once folded.
    const a2 = await node('node-a2', id, clock.ms);
    await tickUntil([a2, b], clock, () => a2.store.role === 'owner', 'a2 to take the released shard');
    const second = translate(a2, 9, 6000, clock.ms);
    await flushed(a2, clock);
    await tickUntil([a2, b], clock, () => holds(second, 9), "b to fold the new owner's lease");
    expect(b.store.role).toBe('standby');
    await b.store.stop(clock.ms);
    await a2.store.stop(clock.ms);
  });

  it('a graceful handover is one trace: the new owner takes the shard under the span that released it', async () => {
    // Proves the release's trace context crosses to the other node in the ownership record: state.handover
    // (drain, snapshot, release) on a, then state.takeover on b as a child of a's state.ownership.transfer.
    const memory = new InMemorySpanExporter();
    const tracing = startTracing({ serviceName: 'handover-test', exporter: memory });
    try {
      const id = randomUUID().slice(0, 8);
      const clock = { ms: 1000 };
      const a = await node('node-a', id, clock.ms);
      await tickUntil([a], clock, () => a.store.role === 'owner', 'a to own the shard');
      translate(a, 5, 6000, clock.ms);
      const b = await node('node-b', id, clock.ms, 1e9);
      a.engine().flush(clock.ms);
      await a.store.stop(clock.ms);
      await tickUntil([b], clock, () => b.store.role === 'owner', 'b to take the released shard');
      await b.store.stop(clock.ms);
      await tracing.flush();
      const spans = memory.getFinishedSpans();
      const named = (name: string) => spans.filter((sp) => sp.name === name);
      const [handover] = named('state.handover');
      expect(handover, spans.map((sp) => sp.name).join(', ')).toBeDefined();
      const release = named('state.ownership.transfer').find(
        (sp) => sp.spanContext().traceId === handover.spanContext().traceId,
      );
      expect(release?.parentSpanContext?.spanId).toBe(handover.spanContext().spanId);
      // b's takeover: it saw the record a released (owner '', a's epoch); a's own first takeover saw none.
      const takeover = named('state.takeover').find(
        (sp) =>
          sp.attributes['xlat64.owner.former'] === '' &&
          sp.attributes['xlat64.epoch.seen'] === handover.attributes['xlat64.epoch'],
      );
      expect(handover.attributes['xlat64.epoch']).toBeGreaterThanOrEqual(1);
      expect(takeover?.spanContext().traceId).toBe(handover.spanContext().traceId);
      expect(takeover?.parentSpanContext?.spanId).toBe(release?.spanContext().spanId);
      expect(takeover?.attributes['xlat64.takeover.outcome']).toBe('serving');
    } finally {
      await tracing.shutdown();
    }
  });
});
