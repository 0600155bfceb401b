// Snapshots off the packet worker (issue 9): the worker copies the tables at the cut and a helper thread
// encodes them, so while a snapshot of a large state is being encoded the worker's thread keeps
// translating packets; the snapshot is exactly the state at the cut (flows translated meanwhile are not
// in it, every flow before it is). With the former synchronous encoding the snapshot was finished before
// the worker could translate anything, so no packet could be translated while it was pending.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  CountingEventSink,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  dumpState,
  EngineVerdict,
  type NatEngine,
  Protocol,
  restoreNatState,
} from '../../nat-engine/src/index.js';
import { SnapshotThread } from '../src/snapshot-thread.js';

const CONFIG = {
  pool: ['203.0.113.0/24'],
  sessionsMax: 65_536,
  mappingsMax: 65_536,
  subscribersMax: 4096,
  subscriberSessionsMax: 1000,
};

function udp(engine: NatEngine, sub: number, port: number, nowMs: number): boolean {
  const key = createFlowKey6();
  key.protocol = Protocol.Udp;
  key.src6.set([0x20010db8, sub << 8, 0, 1]);
  key.srcPort = port;
  key.dst4 = 0xc6336402;
  key.dstPort = 53;
  return engine.outbound6(key, nowMs) === EngineVerdict.Translate;
}

describe('snapshot thread', () => {
  it('lets the worker translate packets while a snapshot of 20,000 sessions is encoded, and the image is the state at the cut', async () => {
    const engine = createNatEngine(CONFIG, {
      sink: new CountingEventSink(),
      random: createSeededRandom(3),
      startMs: 0,
    });
    engine.start(0);
    const now = 1000;
    for (let sub = 0; sub < 100; sub++)
      for (let i = 0; i < 200; i++) expect(udp(engine, sub, 1024 + i, now)).toBe(true);
    engine.flush(now);
    const atCut = dumpState(engine.state);
    expect(atCut.sessions.length).toBe(20_000);

    const thread = new SnapshotThread();
    let bytes: Uint8Array | null = null;
    const pending = thread.take(engine.state, now).then((b) => {
      bytes = b;
    });
    // The worker's loop: one new flow per turn until the snapshot is back.
    let translatedMeanwhile = 0;
    while (bytes === null) {
      await nextTurn();
      if (bytes !== null) break;
      expect(udp(engine, 300 + (translatedMeanwhile >> 8), 1024 + (translatedMeanwhile & 255), now + 1)).toBe(
        true,
      );
      translatedMeanwhile++;
    }
    await pending;
    await thread.stop();
    expect(translatedMeanwhile).toBeGreaterThan(0);
    expect(engine.state.sessionCount).toBe(20_000 + translatedMeanwhile);

    const image0 = bytes as unknown as Uint8Array;
    const restored = restoreNatState(engine.config, image0, 0, image0.length, { hashSeed: 9, startMs: now });
    expect(restored.ok).toBe(true);
    if (!restored.ok) return;
    const image = dumpState(restored.state);
    expect(image.sessions).toEqual(atCut.sessions);
    expect(image.mappings).toEqual(atCut.mappings);
    expect(image.blocks).toEqual(atCut.blocks);
  });
});

describe('snapshot thread, later snapshots', () => {
  it('copies a later snapshot into the buffers the thread gave back, and each image is its own cut', async () => {
    // Proves the reuse of the table copies is exact: the second and third images equal the state at their
    // cuts (flows added and expired in between), not the first one's, and the thread gave the buffers back.
    const engine = createNatEngine(CONFIG, {
      sink: new CountingEventSink(),
      random: createSeededRandom(4),
      startMs: 0,
    });
    engine.start(0);
    const thread = new SnapshotThread();
    const spareOf = () => (thread as unknown as { spare: ArrayBuffer[] | undefined }).spare;
    try {
      for (let round = 0; round < 3; round++) {
        const now = 1000 + round * 400_000; // past the UDP timeout: the earlier rounds' flows expire
        engine.advance(now);
        for (let sub = 0; sub < 20; sub++)
          for (let i = 0; i < 50; i++) expect(udp(engine, round * 100 + sub, 2000 + i, now)).toBe(true);
        const atCut = dumpState(engine.state);
        expect(atCut.sessions.length).toBe(1000);
        expect(spareOf() === undefined).toBe(round === 0);
        const bytes = await thread.take(engine.state, now);
        const restored = restoreNatState(engine.config, bytes, 0, bytes.length, {
          hashSeed: 9,
          startMs: now,
        });
        expect(restored.ok).toBe(true);
        if (!restored.ok) return;
        expect(dumpState(restored.state).sessions).toEqual(atCut.sessions);
        expect(dumpState(restored.state).mappings).toEqual(atCut.mappings);
        expect(spareOf()?.length ?? 0).toBeGreaterThan(0);
      }
    } finally {
      await thread.stop();
    }
  });
});
