// A hot standby against a real nats-server: it tails the owner's shard into a replica that equals the
// owner's state entry by entry, drops batches of a stale epoch (counted), and takes over by bumping
// the epoch in NATS KV and serving from the replica, after which the old owner is fenced.
import { randomUUID } from 'node:crypto';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  dumpState,
  EngineVerdict,
  encodeNatEventBatch,
  NAT_EVENT_SCHEMA_VERSION,
  type NatEngine,
  type NatEvent,
  NatEventType,
  Protocol,
  TcpFlag,
} from '../../nat-engine/src/index.js';
import { type BatchEncoder, EventBatcher } from '../src/batcher.js';
import { JetStreamEventLog } from '../src/jetstream-log.js';
import { connectNats } from '../src/nats-connection.js';
import { ShardOwnership } from '../src/ownership.js';
import { ShardStandby } from '../src/standby.js';

const encoder: BatchEncoder<NatEvent> = {
  encode: (events) => encodeNatEventBatch(events),
};
const CONFIG = { pool: ['203.0.113.0/30'], sessionsMax: 4096, subscribersMax: 128 };

let ncOwner: NatsConnection;
let ncStandby: NatsConnection;
beforeAll(async () => {
  ncOwner = await connectNats({ url: inject('natsUrl'), name: 'owner' });
  ncStandby = await connectNats({ url: inject('natsUrl'), name: 'standby' });
});
afterAll(async () => {
  await ncOwner?.close();
  await ncStandby?.close();
});

function batcherFor(log: JetStreamEventLog, shard: number, epoch: number, lastSequence: number) {
  return new EventBatcher<NatEvent>(
    log,
    encoder,
    {
      shard,
      epoch,
      lastSequence,
      flushIntervalMs: 10,
      batchEventsMax: 100,
      inFlightBatchesMax: 4,
      bufferEventsMax: 100_000,
      retryDelayMs: 20,
    },
    0,
  );
}

async function drain(b: EventBatcher<NatEvent>, fromMs: number): Promise<void> {
  let now = fromMs;
  for (let i = 0; i < 5000; i++) {
    const s = b.status();
    if (s.bufferedEvents === 0 || s.state === 'fenced') return;
    now += 5;
    b.tick(now);
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`not drained: ${JSON.stringify(b.status())}`);
}

/** New UDP/TCP flows from `subs` subscribers at `nowMs` (ports from `portBase`); returns how many translated. */
function traffic(engine: NatEngine, subs: number, portBase: number, nowMs: number): number {
  const key = createFlowKey6();
  let ok = 0;
  for (let sub = 0; sub < subs; sub++) {
    for (let i = 0; i < 5; i++) {
      key.protocol = i % 2 === 0 ? Protocol.Udp : Protocol.Tcp;
      key.src6[0] = 0x20010db8;
      key.src6[1] = sub << 8;
      key.src6[2] = 0;
      key.src6[3] = 1;
      key.srcPort = portBase + i;
      key.dst4 = 0xc6336402;
      key.dstPort = 443;
      key.tcpFlags = TcpFlag.Syn;
      if (engine.outbound6(key, nowMs) === EngineVerdict.Translate) ok++;
    }
  }
  engine.flush(nowMs);
  return ok;
}

describe('hot standby', () => {
  it('tails the shard into a replica equal to the owner, drops stale epochs, and takes over fenced', async () => {
    // Proves the standby path end to end: replica == live entry by entry while the owner runs; a batch
    // of an older epoch never reaches the replica; after a KV takeover the standby serves from the
    // replica with the next epoch, its appends land, and the old owner's next append is fenced.
    const id = randomUUID().slice(0, 8);
    const names = { stream: `S_${id}`, subjectPrefix: `s.${id}`, snapshotBucket: `ssnap-${id}` };
    const shard = 4;
    const ownerLog = await JetStreamEventLog.open(ncOwner, names);
    const standbyLog = await JetStreamEventLog.open(ncStandby, names);
    const ownersA = await ShardOwnership.open(ncOwner, 'node-a', `own-${id}`);
    const ownersB = await ShardOwnership.open(ncStandby, 'node-b', `own-${id}`);
    const leaseA = await ownersA.acquire(shard, null, 0);

    const ownerBatcher = batcherFor(ownerLog, shard, leaseA.record.epoch, 0);
    const owner = createNatEngine(CONFIG, {
      sink: { push: (e) => void ownerBatcher.add(e) },
      random: createSeededRandom(5),
      startMs: 0,
      shard,
      epoch: leaseA.record.epoch,
    });
    owner.start(0);

    const replica = createReplayState(owner.config, 0);
    const standby = new ShardStandby(standbyLog, shard, replica, { sequence: 0, epoch: 0 });
    await standby.start();

    let now = 1000;
    for (let round = 0; round < 10; round++) {
      expect(traffic(owner, 12, 2000 + round * 10, now)).toBeGreaterThan(0);
      ownerBatcher.tick(now);
      now += 1000;
      await new Promise((r) => setTimeout(r, 5));
    }
    await drain(ownerBatcher, now);
    await standby.caughtUp(ownerBatcher.status().ackedSequence);
    const live = dumpState(owner.state, { expiry: 'logged' });
    const folded = dumpState(replica);
    expect(folded.blocks).toEqual(live.blocks);
    expect(folded.mappings).toEqual(live.mappings);
    expect(folded.sessions).toEqual(live.sessions);
    expect(live.sessions.length).toBeGreaterThan(50);
    expect(standby.follower.counters.appliedEvents).toBe(ownerBatcher.status().appendedEvents);

    // The flow the successor must keep after the takeover (an established UDP flow of subscriber 3).
    const probe = createFlowKey6();
    probe.protocol = Protocol.Udp;
    probe.src6.set([0x20010db8, 3 << 8, 0, 1]);
    probe.srcPort = 2000;
    probe.dst4 = 0xc6336402;
    probe.dstPort = 443;
    expect(owner.outbound6(probe, now)).toBe(EngineVerdict.Translate);
    const before = [owner.result.v4Src, owner.result.v4SrcPort];
    const findProbe = () => replica.findSession4(1, before[0], before[1], 0xc6336402, 443);
    expect(findProbe()).not.toBe(-1);

    // A batch of an older epoch written around the adapter (no fence) that would remove that session:
    // the standby drops it and counts it.
    const h = headers();
    h.set('Xlat64-Epoch', String(leaseA.record.epoch - 1));
    h.set('Xlat64-Sequence', String(ownerBatcher.status().ackedSequence + 1));
    h.set('Xlat64-Events', '1');
    const removal = {
      type: NatEventType.SessionRemoved,
      version: NAT_EVENT_SCHEMA_VERSION,
      shard,
      epoch: leaseA.record.epoch - 1,
      timeMs: now,
      protocol: 1,
      ipv4: before[0],
      ipv4Port: before[1],
      remote: 0xc6336402,
      remotePort: 443,
      cause: 1,
    } as NatEvent;
    await ownerLog.jetstream.publish(
      ownerLog.subjectOf(shard),
      encoder.encode([removal], { shard, epoch: 0, sequence: 0 }),
      { headers: h },
    );
    for (let i = 0; i < 100 && standby.follower.counters.staleEpochBatches === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(standby.follower.counters.staleEpochBatches).toBe(1);
    expect(findProbe()).not.toBe(-1);

    // Takeover: node-b bumps the epoch from the record it saw, stops tailing, serves from the replica.
    await standby.stop();
    const leaseB = await ownersB.acquire(shard, await ownersB.find(shard), now);
    expect(leaseB.record.epoch).toBe(leaseA.record.epoch + 1);
    standbyLog.forget(shard);
    const takeoverBatcher = batcherFor(standbyLog, shard, leaseB.record.epoch, standby.appliedSequence);
    const successor = createNatEngine(CONFIG, {
      sink: { push: (e) => void takeoverBatcher.add(e) },
      random: createSeededRandom(6),
      startMs: now,
      shard,
      epoch: leaseB.record.epoch,
      state: replica,
    });
    // The established flow continues on the successor with the same IPv4 address and port.
    expect(successor.outbound6(probe, now)).toBe(EngineVerdict.Translate);
    expect([successor.result.v4Src, successor.result.v4SrcPort]).toEqual(before);

    expect(traffic(successor, 4, 9000, now + 10)).toBeGreaterThan(0);
    await drain(takeoverBatcher, now + 10);
    expect(takeoverBatcher.status().state).toBe('replicated');

    // The old owner is still running and tries to append: fenced, counted, no longer accepting events.
    traffic(owner, 2, 9500, now + 20);
    await drain(ownerBatcher, now + 20);
    expect(ownerBatcher.status().state).toBe('fenced');
    expect(ownerLog.fencedAppends).toBeGreaterThan(0);
    await expect(ownersA.confirm(leaseA)).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
  });
});
