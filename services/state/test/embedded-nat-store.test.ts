// Embedded mode end to end below the PLAT: an engine writing through the store survives a crash (the
// store abandoned without stop) with every mapping and session back, entry by entry, on the same IPv4
// address and port; a torn tail record is cut and counted; snapshots keep disk bounded while the state
// still restores exactly; a snapshot of another configuration or a log of a newer version is refused at
// open naming the fix; refused events lead to a snapshot that makes the log whole again.
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createFlowKey4,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  dumpState,
  EngineVerdict,
  encodeNatEventBatch,
  type NatEngine,
  type NatEngineConfigInput,
  Protocol,
  TcpFlag,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { EmbeddedEventLog } from '../src/embedded-log.js';
import { EmbeddedNatStore } from '../src/embedded-nat-store.js';

const root = mkdtempSync(join(tmpdir(), 'x64-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = () => join(root, `s${dirs++}`);

const INPUT: NatEngineConfigInput = {
  pool: ['203.0.113.0/29'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 2047], udp: [1024, 2047], icmp: [1024, 2047] },
  sessionsMax: 8192,
  subscribersMax: 512,
};

async function openStore(
  directory: string,
  nowMs: number,
  extra: Partial<Parameters<typeof EmbeddedNatStore.open>[0]> = {},
) {
  return EmbeddedNatStore.open(
    { directory, config: validateConfig(INPUT), hashSeed: 99, flushIntervalMs: 100, ...extra },
    nowMs,
  );
}

function engineOn(store: EmbeddedNatStore, nowMs: number): NatEngine {
  const engine = createNatEngine(INPUT, {
    sink: store.sink,
    random: createSeededRandom(nowMs),
    startMs: nowMs,
    state: store.state,
  });
  engine.start(nowMs);
  return engine;
}

/** Seeded traffic: new UDP/TCP flows and replies; returns the new time and the flows' IPv4 tuples. */
function traffic(engine: NatEngine, store: EmbeddedNatStore, seed: number, steps: number, startMs: number) {
  const rnd = createSeededRandom(seed);
  const pick = (n: number) => rnd.nextUint32() % n;
  const key6 = createFlowKey6();
  let now = startMs;
  for (let i = 0; i < steps; i++) {
    now += pick(200);
    key6.protocol = pick(2) === 0 ? Protocol.Udp : Protocol.Tcp;
    key6.src6.set([0x20010db8, pick(100) << 8, 0, 1]);
    key6.srcPort = 1024 + pick(500);
    key6.dst4 = (0xc6336400 + pick(16)) >>> 0;
    key6.dstPort = 1 + pick(100);
    key6.tcpFlags = pick(3) === 0 ? TcpFlag.Ack : TcpFlag.Syn;
    key6.icmpError = false;
    engine.outbound6(key6, now);
    if (i % 20 === 0) {
      engine.advance(now);
      engine.flush(now);
      store.tick(now);
    }
  }
  engine.advance(now);
  engine.flush(now);
  return now;
}

const logged = (engine: { state: Parameters<typeof dumpState>[0] }) =>
  dumpState(engine.state, { expiry: 'logged' });

describe('embedded NAT store', () => {
  it('proves a crash (no stop) loses nothing written: the reopened state equals the live one and a flow keeps its IPv4 address and port', async () => {
    const dir = freshDir();
    const store = await openStore(dir, 1_000_000);
    expect(store.recovery).toMatchObject({ snapshotSequence: 0, replayedBatches: 0, sessions: 0 });
    const engine = engineOn(store, 1_000_000);
    let now = traffic(engine, store, 1, 3000, 1_000_000);
    const udp = createFlowKey6();
    Object.assign(udp, { protocol: Protocol.Udp, srcPort: 40000, dst4: 0xc6336401, dstPort: 53 });
    udp.src6.set([0x20010db8, 0x7700, 0, 1]);
    expect(engine.outbound6(udp, now)).toBe(EngineVerdict.Translate);
    const tuple = [engine.result.v4Src, engine.result.v4SrcPort];
    engine.flush(now);
    await new Promise<void>((resolve) => {
      // Let the batcher write everything (as the PLAT's maintenance ticks do), then "crash".
      const poll = () => {
        store.tick(now + 1000);
        if (store.status().batcher.bufferedEvents === 0) resolve();
        else setTimeout(poll, 5);
      };
      poll();
    });
    const before = logged(engine);
    expect(before.sessions.length).toBeGreaterThan(500);

    // Restart 30 s later: the same sessions and mappings, lifetimes as logged (so 30 s shorter from now).
    now += 30_000;
    const again = await openStore(dir, now);
    expect(again.recovery.replayedBatches).toBeGreaterThan(0);
    expect(again.recovery.sessions).toBe(engine.state.sessionCount);
    expect(logged({ state: again.state })).toEqual(before);
    const restarted = engineOn(again, now);
    const reply = createFlowKey4();
    Object.assign(reply, {
      protocol: Protocol.Udp,
      src4: 0xc6336401,
      srcPort: 53,
      dst4: tuple[0],
      dstPort: tuple[1],
    });
    expect(restarted.inbound4(reply, now)).toBe(EngineVerdict.Translate);
    expect(restarted.result.v6Port).toBe(40000);
    expect(restarted.outbound6(udp, now)).toBe(EngineVerdict.Translate);
    expect([restarted.result.v4Src, restarted.result.v4SrcPort]).toEqual(tuple);
    await again.stop(now);
    await store.log.stop();
  });

  it('proves a record torn by a crash mid-write is cut off and counted, and the state is the one before it', async () => {
    const dir = freshDir();
    const store = await openStore(dir, 0);
    const engine = engineOn(store, 0);
    const now = traffic(engine, store, 2, 1000, 0);
    await store.stop(now); // a clean stop: final snapshot, empty tail
    const clean = logged(engine);
    const segment = readdirSync(dir)
      .filter((n) => n.startsWith('log-'))
      .sort()
      .at(-1) as string;
    const size = statSync(join(dir, segment)).size;
    appendFileSync(join(dir, segment), Buffer.from([0, 0, 1, 0, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0]));
    const again = await openStore(dir, now);
    expect(again.recovery.tornRecords).toBe(1);
    expect(statSync(join(dir, segment)).size).toBe(size);
    expect(logged({ state: again.state })).toEqual(clean);
    await again.stop(now);
  });

  it('proves snapshots bound the disk (snapshot + tail) through heavy churn while the state still restores exactly', async () => {
    const dir = freshDir();
    const store = await openStore(dir, 0, { tailBytesMin: 16 * 1024 });
    const engine = engineOn(store, 0);
    let now = 0;
    let peakDisk = 0;
    for (let round = 0; round < 12; round++) {
      now = traffic(engine, store, 10 + round, 1500, now + 400_000); // idle gaps: flows expire, new ones come
      store.tick(now);
      // The snapshot is encoded on its own thread while traffic goes on; the bound below is per snapshot
      // taken, so a round lets one that started finish (a worker keeps translating meanwhile).
      while (store.status().snapshotInProgress) await new Promise((r) => setTimeout(r, 5));
      await store.log.flush();
      peakDisk = Math.max(peakDisk, store.log.diskBytes());
    }
    const status = store.status();
    expect(status.snapshots).toBeGreaterThan(3);
    expect(status.log.deletedSegments).toBeGreaterThan(2);
    // The whole history written is several times what is on disk.
    expect(status.log.writtenBytes).toBeGreaterThan(3 * peakDisk);
    expect(peakDisk).toBeLessThan(4 * Math.max(16 * 1024, status.lastSnapshotBytes) + 64 * 1024);
    while (store.status().batcher.bufferedEvents > 0) {
      store.tick(now + 1000);
      await new Promise((r) => setTimeout(r, 5));
    }
    const again = await openStore(dir, now);
    expect(logged({ state: again.state })).toEqual(logged(engine));
    await again.stop(now);
    await store.log.stop();
  });

  it('proves a snapshot of another pool is refused at open with the cause and the fix', async () => {
    const dir = freshDir();
    const store = await openStore(dir, 0);
    const engine = engineOn(store, 0);
    await store.stop(traffic(engine, store, 3, 200, 0));
    await expect(
      EmbeddedNatStore.open(
        {
          directory: dir,
          config: validateConfig({ ...INPUT, pool: ['198.51.100.0/29'] }),
          hashSeed: 1,
          flushIntervalMs: 100,
        },
        0,
      ),
    ).rejects.toMatchObject({
      code: 'XLAT64_ERR_SNAPSHOT_MISMATCH',
      message: expect.stringMatching(
        /snapshot of shard 0 cannot be restored: .*another pool.*move the state directory away/,
      ),
    });
  });

  it('proves a log batch written by a newer build is refused at open, not misread', async () => {
    const dir = freshDir();
    const log = await EmbeddedEventLog.open(dir);
    const payload = encodeNatEventBatch([
      {
        type: 2,
        version: 1,
        shard: 0,
        epoch: 0,
        timeMs: 5,
        protocol: 1,
        address: 0xcb007101,
        firstPort: 1024,
      },
    ]);
    payload[0] = 2;
    await log.append({ shard: 0, epoch: 0, sequence: 1, eventCount: 1, payload });
    await log.stop();
    await expect(openStore(dir, 0)).rejects.toMatchObject({
      code: 'XLAT64_ERR_SNAPSHOT_MISMATCH',
      message: expect.stringMatching(
        /newer-version.*version 2 is newer than this build's 1.*run the xlat64 version that wrote it/,
      ),
    });
  });

  it('proves events refused at the buffer bound make the shard unreplicated until a snapshot, after which a restart is exact', async () => {
    const dir = freshDir();
    const store = await openStore(dir, 0, { bufferEventsMax: 16, batchEventsMax: 8 });
    const engine = engineOn(store, 0);
    const key6 = createFlowKey6();
    for (let i = 0; i < 40; i++) {
      Object.assign(key6, {
        protocol: Protocol.Udp,
        srcPort: 2000 + i,
        dst4: 0xc6336401,
        dstPort: 53,
        tcpFlags: 0,
        icmpError: false,
      });
      key6.src6.set([0x20010db8, i << 8, 0, 1]);
      engine.outbound6(key6, 10);
    }
    expect(store.status().batcher).toMatchObject({ state: 'unreplicated' });
    expect(store.status().batcher.refusedEvents).toBeGreaterThan(0);
    store.tick(200); // sees "unreplicated": snapshot at a cut
    while (store.status().batcher.state !== 'replicated' || store.status().batcher.bufferedEvents > 0) {
      store.tick(300);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(store.status().snapshots).toBe(1);
    const again = await openStore(dir, 400);
    expect(logged({ state: again.state })).toEqual(logged(engine));
    await again.stop(400);
    await store.log.stop();
  });
});
