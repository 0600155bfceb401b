// The JetStream event log against a real nats-server: the engine's events folded back from the stream
// equal the live state entry by entry; of two writers for one shard exactly one appends and the other is
// fenced and counts it; a retried publish is stored once; snapshots in the Object Store compact the
// shard; and with the server restarted mid-traffic every batch is stored exactly once and in order.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { restartServer, startServer, stopServer } from '../../../infra/services/servers.js';
import {
  checkInvariants,
  createFlowKey4,
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  dumpState,
  EngineVerdict,
  encodeNatEventBatch,
  type NatEngine,
  type NatEvent,
  Protocol,
  TcpFlag,
} from '../../nat-engine/src/index.js';
import { type BatchEncoder, EventBatcher, type ShardReplicationState } from '../src/batcher.js';
import type { EventBatch } from '../src/event-log.js';
import { JetStreamEventLog } from '../src/jetstream-log.js';
import { NatShardFollower } from '../src/nat-shard-follower.js';
import { connectNats } from '../src/nats-connection.js';

// Engine events travel in the engine's binary codec (the adapter never looks inside); the plain
// number batches of the fence and outage tests are JSON.
const natEncoder: BatchEncoder<NatEvent> = { encode: (events) => encodeNatEventBatch(events) };
const numberEncoder: BatchEncoder<number> = {
  encode: (events) => new TextEncoder().encode(JSON.stringify(events)),
};

let nc: NatsConnection;
beforeAll(async () => {
  nc = await connectNats({ url: inject('natsUrl'), name: 'jetstream-log-test' });
});
afterAll(async () => {
  await nc?.close();
});

/** Ticks the batcher (it sends only when ticked) until everything is acknowledged, or it is fenced. */
async function drain<T>(b: EventBatcher<T>, fromMs: number, timeoutMs = 30_000): Promise<number> {
  let now = fromMs;
  const end = Date.now() + timeoutMs;
  void b.drain(now);
  while (Date.now() < end) {
    const s = b.status();
    if (s.bufferedEvents === 0 || s.state === 'fenced' || s.state === 'stopped') return now;
    now += 5;
    b.tick(now);
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`batcher did not drain: ${JSON.stringify(b.status())}`);
}

function uniqueNames() {
  const id = randomUUID().slice(0, 8);
  return { stream: `T_${id}`, subjectPrefix: `t.${id}`, snapshotBucket: `snap-${id}` };
}

async function collect(log: JetStreamEventLog, shard: number, after: number): Promise<EventBatch[]> {
  const out: EventBatch[] = [];
  for await (const b of log.read(shard, after)) out.push(b);
  return out;
}

function batcherFor<T>(
  log: JetStreamEventLog,
  encoder: BatchEncoder<T>,
  shard: number,
  epoch: number,
  lastSequence: number,
  extra: Partial<ConstructorParameters<typeof EventBatcher>[2]> = {},
) {
  return new EventBatcher<T>(
    log,
    encoder,
    {
      shard,
      epoch,
      lastSequence,
      flushIntervalMs: 10,
      batchEventsMax: 200,
      inFlightBatchesMax: 4,
      bufferEventsMax: 1_000_000,
      retryDelayMs: 50,
      ...extra,
    },
    0,
  );
}

/** A seeded workload of new flows, replies and idle stretches (blocks, mappings and sessions come and go). */
function runWorkload(
  engine: NatEngine,
  seed: number,
  steps: number,
  onFlush: (nowMs: number) => void,
): number {
  const rnd = createSeededRandom(seed);
  const pick = (n: number) => rnd.nextUint32() % n;
  const key6 = createFlowKey6();
  const key4 = createFlowKey4();
  const flows: {
    protocol: number;
    sub: number;
    port: number;
    dst: number;
    dstPort: number;
    v4: number;
    v4Port: number;
  }[] = [];
  const protocols = [Protocol.Tcp, Protocol.Udp, Protocol.Icmp6];
  let now = 0;
  for (let step = 1; step <= steps; step++) {
    now += pick(300);
    if (pick(500) === 0) now += 60_000 * (1 + pick(6));
    if (pick(3) === 0 || flows.length === 0) {
      key6.protocol = protocols[pick(3)];
      key6.src6[0] = 0x20010db8;
      key6.src6[1] = pick(120) << 8;
      key6.src6[2] = 0;
      key6.src6[3] = 1 + pick(3);
      key6.srcPort = 1024 + pick(3000);
      key6.dst4 = (0xc6336400 + pick(64)) >>> 0;
      key6.dstPort = key6.protocol === Protocol.Icmp6 ? key6.srcPort : 1 + pick(1000);
      key6.tcpFlags = TcpFlag.Syn;
      key6.icmpError = false;
      if (engine.outbound6(key6, now) === EngineVerdict.Translate) {
        flows.push({
          protocol: key6.protocol,
          sub: key6.src6[1],
          port: key6.srcPort,
          dst: key6.dst4,
          dstPort: key6.dstPort,
          v4: engine.result.v4Src,
          v4Port: engine.result.v4SrcPort,
        });
      }
    } else {
      const f = flows[pick(flows.length)];
      const flags = [TcpFlag.Ack, TcpFlag.Syn | TcpFlag.Ack, TcpFlag.Fin | TcpFlag.Ack, TcpFlag.Rst][pick(4)];
      if (pick(2) === 0) {
        key6.protocol = f.protocol;
        key6.src6[1] = f.sub;
        key6.srcPort = f.port;
        key6.dst4 = f.dst;
        key6.dstPort = f.dstPort;
        key6.tcpFlags = flags;
        engine.outbound6(key6, now);
      } else {
        key4.protocol = f.protocol === Protocol.Icmp6 ? Protocol.Icmp4 : f.protocol;
        key4.src4 = f.dst;
        key4.srcPort = f.protocol === Protocol.Icmp6 ? f.v4Port : f.dstPort;
        key4.dst4 = f.v4;
        key4.dstPort = f.v4Port;
        key4.tcpFlags = flags;
        key4.icmpError = false;
        engine.inbound4(key4, now);
      }
    }
    if (step % 40 === 0) {
      engine.advance(now);
      engine.flush(now);
      onFlush(now);
    }
  }
  engine.advance(now);
  engine.flush(now);
  onFlush(now);
  return now;
}

describe('JetStream event log', () => {
  it('replay equivalence through JetStream: engine events -> stream -> fold equals the live state, entry by entry', async () => {
    // Proves the adapter stores every batch of a real engine workload, in order, with payloads intact:
    // a lost, reordered or duplicated batch would leave a different BIB, session or block table.
    const log = await JetStreamEventLog.open(nc, uniqueNames());
    const shard = 5;
    const batcher = batcherFor(log, natEncoder, shard, 1, await log.lastSequence(shard));
    let refused = 0;
    const engine = createNatEngine(
      { pool: ['203.0.113.0/30'], sessionsMax: 8192, subscribersMax: 256, subscriberBlocksMax: 2 },
      {
        sink: { push: (e) => void (batcher.add(e) || refused++) },
        random: createSeededRandom(11),
        startMs: 0,
        shard,
        epoch: 1,
      },
    );
    engine.start(0);
    const endMs = runWorkload(engine, 12, 20_000, (now) => batcher.tick(now));
    await drain(batcher, endMs);
    expect(refused).toBe(0);
    expect(batcher.status().state).toBe('replicated');
    const appended = batcher.status().appendedEvents;
    expect(appended).toBeGreaterThan(5_000);

    // A second client (another node's view) reads the shard back and folds it.
    const reader = await connectNats({ url: inject('natsUrl'), name: 'replica' });
    const other = await JetStreamEventLog.open(reader, {
      stream: log.stream,
      subjectPrefix: log.subjectPrefix,
      snapshotBucket: `snap-${log.stream}`,
    });
    const batches = await collect(other, shard, 0);
    expect(batches.map((b) => b.sequence)).toEqual(batches.map((_, i) => i + 1));
    const replay = createReplayState(engine.config, 0);
    const follower = new NatShardFollower(replay, shard, { sequence: 0, epoch: 0 });
    for (const batch of batches) expect(follower.apply(batch)).toBe('applied');
    expect(follower.counters.appliedEvents).toBe(appended);
    const live = dumpState(engine.state, { expiry: 'logged' });
    const folded = dumpState(replay);
    expect(folded.blocks).toEqual(live.blocks);
    expect(folded.mappings).toEqual(live.mappings);
    expect(folded.sessions).toEqual(live.sessions);
    expect(folded.subscribers).toEqual(live.subscribers);
    expect(live.sessions.length).toBeGreaterThan(0);
    expect(checkInvariants(replay)).toEqual([]);
    await reader.close();
    await log.stop();
  });

  it('two writers for one shard: exactly one append succeeds, the other is fenced and counts it', async () => {
    // Proves Nats-Expected-Last-Subject-Sequence is the fence: both writers start from the same tail,
    // only the first append lands, and the loser's batcher stops (state 'fenced') instead of retrying.
    const names = uniqueNames();
    const ncB = await connectNats({ url: inject('natsUrl'), name: 'writer-b' });
    const logA = await JetStreamEventLog.open(nc, names);
    const logB = await JetStreamEventLog.open(ncB, names);
    const shard = 3;
    const seed = batcherFor(logA, numberEncoder, shard, 1, 0);
    seed.add(1);
    await drain(seed, 100);
    const a = batcherFor(logA, numberEncoder, shard, 2, await logA.lastSequence(shard));
    const b = batcherFor(logB, numberEncoder, shard, 2, await logB.lastSequence(shard));
    a.add(10);
    b.add(20);
    await Promise.all([drain(a, 200), drain(b, 200)]);
    const states = [a.status().state, b.status().state].sort();
    expect(states).toEqual(['fenced', 'replicated']);
    expect(logA.fencedAppends + logB.fencedAppends).toBe(1);
    const loser = a.status().state === 'fenced' ? a : b;
    expect(loser.status().lastErrorCode).toBe('XLAT64_ERR_FENCED');
    expect(loser.add(30)).toBe(false); // a fenced writer takes no more events
    const stored = (await collect(logA, shard, 0)).map((x) =>
      JSON.parse(new TextDecoder().decode(x.payload)),
    );
    expect(stored).toHaveLength(2);
    expect(stored[0]).toEqual([1]);
    expect([[10], [20]]).toContainEqual(stored[1]);

    // A writer of an older epoch is refused even when it knows the current tail.
    const stale = batcherFor(logA, numberEncoder, shard, 1, await logA.lastSequence(shard));
    stale.add(40);
    await drain(stale, 300);
    expect(stale.status().state).toBe('fenced');
    expect(await logA.lastSequence(shard)).toBe(2);
    await ncB.close();
  });

  it('a retried publish of the same batch identity is acknowledged as a duplicate and stored once', async () => {
    // Proves Nats-Msg-Id dedupe: the ack of the first try was "lost", the retry must not add a batch.
    const log = await JetStreamEventLog.open(nc, uniqueNames());
    const batch = { shard: 1, epoch: 1, sequence: 1, eventCount: 1, payload: Uint8Array.of(7) };
    const first = await log.append(batch);
    const again = await log.append(batch);
    expect(first.duplicate).toBe(false);
    expect(again.duplicate).toBe(true);
    expect(again.position).toBe(first.position);
    expect(await collect(log, 1, 0)).toHaveLength(1);
    expect(log.duplicateAppends).toBe(1);
  });

  it('a snapshot in the Object Store compacts the shard: replay = snapshot + the batches after it', async () => {
    // Proves put() purges exactly the covered batches and read() refuses a start inside the purged part.
    const log = await JetStreamEventLog.open(nc, uniqueNames());
    const b = batcherFor(log, numberEncoder, 2, 1, 0, { batchEventsMax: 1 });
    for (let i = 1; i <= 10; i++) b.add(i);
    await drain(b, 100);
    await log.put({ shard: 2, epoch: 1, sequence: 6, timeMs: 1234, payload: Uint8Array.of(1, 2, 3) });
    const snap = await log.latest(2);
    expect(snap).toMatchObject({ shard: 2, epoch: 1, sequence: 6, timeMs: 1234 });
    expect(Array.from(snap?.payload ?? [])).toEqual([1, 2, 3]);
    expect((await collect(log, 2, 6)).map((x) => x.sequence)).toEqual([7, 8, 9, 10]);
    await expect(collect(log, 2, 0)).rejects.toMatchObject({ code: 'XLAT64_ERR_LOG_COMPACTED' });
    expect(await log.latest(9)).toBeNull();
  });

  it('NATS restarted mid-traffic: every batch reaches the stream exactly once and in order', async () => {
    // Proves the outage path end to end: appends fail (LOG_UNAVAILABLE), events wait in the batcher's
    // bounded buffer with the shard 'lagging', and after the restart retries with the same identities are
    // stored once (Nats-Msg-Id) in sequence order; the stream then holds exactly sequences 1..N.
    let server = startServer('nats');
    const client = await connectNats({ url: server.url, name: 'restart-test', reconnectTimeWaitMs: 100 });
    try {
      const log = await JetStreamEventLog.open(client, { ...uniqueNames(), appendTimeoutMs: 500 });
      const shard = 7;
      const b = batcherFor(log, numberEncoder, shard, 1, 0, { batchEventsMax: 50, flushIntervalMs: 5 });
      const seen = new Set<ShardReplicationState>();
      let next = 0;
      let now = 0;
      const traffic = async (rounds: number) => {
        for (let i = 0; i < rounds; i++) {
          for (let j = 0; j < 40; j++) expect(b.add(next++)).toBe(true);
          seen.add(b.status().state); // before the tick, which resends a failed window at once
          now += 5;
          b.tick(now);
          seen.add(b.status().state);
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      await traffic(40);
      const before = b.status().ackedSequence;
      expect(before).toBeGreaterThan(0);
      stopServer(server, false); // keep the JetStream store: the restarted server has the stream
      await traffic(60);
      server = restartServer(server, true);
      await traffic(40);
      now += 1000;
      const deadline = Date.now() + 30_000;
      while (b.status().bufferedEvents > 0 && Date.now() < deadline) {
        now += 5;
        b.tick(now);
        await new Promise((r) => setTimeout(r, 20));
      }
      const status = b.status();
      expect(status.bufferedEvents).toBe(0);
      expect(status.state).toBe('replicated');
      expect(seen.has('lagging')).toBe(true);
      expect(status.appendFailures).toBeGreaterThan(0);

      const batches = await collect(log, shard, 0);
      expect(batches.map((x) => x.sequence)).toEqual(batches.map((_, i) => i + 1));
      expect(batches.length).toBe(status.sealedSequence);
      const values = batches.flatMap((x) => JSON.parse(new TextDecoder().decode(x.payload)) as number[]);
      expect(values).toEqual(Array.from({ length: next }, (_, i) => i));
      const info = await (await import('@nats-io/jetstream')).jetstreamManager(client);
      const streamInfo = await info.streams.info(log.stream);
      expect(streamInfo.state.messages).toBe(batches.length);
      await log.stop();
    } finally {
      await client.close();
      stopServer(server);
    }
  });
});
