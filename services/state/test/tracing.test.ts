// Control-plane spans of the state layer. Against a real Jaeger (built by infra/scripts/ensure-jaeger.sh):
// restarting an embedded store after a crash is one `state.recover` trace with the snapshot load and the
// log replay inside it, and the snapshot written before is a span too. Against the real nats-server: a
// batch appended inside a span carries its trace context in the JetStream message headers, so the
// standby (another connection, as another node) applies it in a span of the same trace, and an ownership
// change records its traceparent in the KV record.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type RunningServer, startJaeger } from '../../../infra/observability/servers.js';
import { startTracing, type Tracing, trace, traced } from '../../../libs/telemetry/src/index.js';
import {
  ArrayEventSink,
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  EngineVerdict,
  encodeNatEventBatch,
  type NatEngineConfigInput,
  Protocol,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { EmbeddedNatStore } from '../src/embedded-nat-store.js';
import { JetStreamEventLog } from '../src/jetstream-log.js';
import { connectNats } from '../src/nats-connection.js';
import { ShardOwnership } from '../src/ownership.js';
import { ShardStandby } from '../src/standby.js';

const INPUT: NatEngineConfigInput = {
  pool: ['203.0.113.0/29'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 2047], udp: [1024, 2047], icmp: [1024, 2047] },
  sessionsMax: 8192,
  subscribersMax: 512,
};
const service = `xlat64-state-test-${process.pid}`;
const root = mkdtempSync(join(tmpdir(), 'x64-trace-'));
const memory = new InMemorySpanExporter();
let jaeger: RunningServer & { otlpTracesUrl: string };
let tracing: Tracing;

interface JaegerSpan {
  operationName: string;
  spanID: string;
  references: { refType: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
}

// The first run builds Jaeger from source (minutes on 2 cores); later runs find the cached binary.
beforeAll(async () => {
  jaeger = await startJaeger();
  tracing = startTracing({ serviceName: service, otlpUrl: jaeger.otlpTracesUrl, exporter: memory });
}, 3_600_000);

afterAll(async () => {
  await tracing?.shutdown();
  await jaeger?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** New UDP flows of `subscribers` subscribers; the engine's events go to the store. */
function traffic(store: EmbeddedNatStore, nowMs: number, subscribers: number): void {
  const engine = createNatEngine(INPUT, {
    sink: store.sink,
    random: createSeededRandom(nowMs),
    startMs: nowMs,
    state: store.state,
  });
  engine.start(nowMs);
  const key = createFlowKey6();
  for (let s = 0; s < subscribers; s++) {
    key.protocol = Protocol.Udp;
    key.src6.set([0x20010db8, s << 8, 0, 1]);
    key.srcPort = 5000 + s;
    key.dst4 = 0xc6336402;
    key.dstPort = 53;
    expect(engine.outbound6(key, nowMs)).toBe(EngineVerdict.Translate);
  }
  engine.flush(nowMs);
}

async function written(store: EmbeddedNatStore, nowMs: number): Promise<void> {
  for (let i = 0; i < 2000 && store.status().batcher.bufferedEvents > 0; i++) {
    store.tick(nowMs);
    await new Promise((r) => setTimeout(r, 2));
  }
  expect(store.status().batcher.bufferedEvents).toBe(0);
}

describe('state-layer spans', () => {
  it('a restart after a crash is one recovery trace in Jaeger: snapshot load and log replay inside state.recover', async () => {
    // Proves the spans are wired into EmbeddedNatStore.open (not only a demo of the tracer): the replay
    // span counts the batches written after the snapshot, and both are children of the recovery span.
    const dir = join(root, 'store');
    const open = (nowMs: number) =>
      EmbeddedNatStore.open(
        { directory: dir, config: validateConfig(INPUT), hashSeed: 7, flushIntervalMs: 10 },
        nowMs,
      );
    const first = await open(1_000_000);
    traffic(first, 1_000_000, 20);
    await written(first, 1_000_100);
    await first.snapshot(1_000_200); // state.snapshot.write
    traffic(first, 1_000_300, 30); // the tail after the snapshot
    await written(first, 1_000_400);
    // Crash: the store is abandoned without stop; the next open restores snapshot + tail.
    const again = await open(1_010_000);
    expect(again.recovery.snapshotSequence).toBeGreaterThan(0);
    expect(again.recovery.replayedBatches).toBeGreaterThan(0);
    await again.stop(1_010_100);
    await tracing.flush();

    let spans: JaegerSpan[] = [];
    for (let i = 0; i < 60; i++) {
      const doc = JSON.parse(jaeger.get(`/api/traces?service=${service}&operation=state.recover`)) as {
        data: { spans: JaegerSpan[] }[];
      };
      // The second open's trace: the one with a snapshot load (the first open had no snapshot).
      spans =
        doc.data.map((t) => t.spans).find((s) => s.some((x) => x.operationName === 'state.snapshot.load')) ??
        [];
      if (spans.length > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const recover = spans.find((s) => s.operationName === 'state.recover');
    const load = spans.find((s) => s.operationName === 'state.snapshot.load');
    const replay = spans.find((s) => s.operationName === 'state.log.replay');
    expect(recover).toBeDefined();
    for (const child of [load, replay])
      expect(child?.references).toEqual([
        expect.objectContaining({ refType: 'CHILD_OF', spanID: recover?.spanID }),
      ]);
    const tag = (span: JaegerSpan | undefined, key: string) => span?.tags.find((t) => t.key === key)?.value;
    expect(tag(replay, 'xlat64.log.batches')).toBe(again.recovery.replayedBatches);
    expect(tag(load, 'xlat64.snapshot.sequence')).toBe(again.recovery.snapshotSequence);
    expect(tag(recover, 'xlat64.sessions')).toBe(again.recovery.sessions);
    // The snapshot of the first run (and the final one at stop) were exported as spans too.
    const snapshots = JSON.parse(
      jaeger.get(`/api/traces?service=${service}&operation=state.snapshot.write`),
    ) as { data: unknown[] };
    expect(snapshots.data.length).toBeGreaterThanOrEqual(2);
  });

  describe('across nodes through NATS', () => {
    let ncOwner: NatsConnection;
    let ncStandby: NatsConnection;
    beforeAll(async () => {
      ncOwner = await connectNats({ url: inject('natsUrl'), name: 'trace-owner' });
      ncStandby = await connectNats({ url: inject('natsUrl'), name: 'trace-standby' });
    });
    afterAll(async () => {
      await ncOwner?.close();
      await ncStandby?.close();
    });

    it("a batch appended inside a span is applied by the standby in a span of the same trace; the owner record keeps the change's traceparent", async () => {
      // Proves W3C trace context crosses nodes in the JetStream message headers (and in the KV record).
      const id = randomUUID().slice(0, 8);
      const names = { stream: `T_${id}`, subjectPrefix: `t.${id}`, snapshotBucket: `tsnap-${id}` };
      const shard = 2;
      const ownerLog = await JetStreamEventLog.open(ncOwner, names);
      const standbyLog = await JetStreamEventLog.open(ncStandby, names);
      const owners = await ShardOwnership.open(ncOwner, 'node-a', `town-${id}`);
      const replica = createReplayState(validateConfig(INPUT), 0);
      const standby = new ShardStandby(standbyLog, shard, replica, { sequence: 0, epoch: 0 });
      await standby.start();

      const sink = new ArrayEventSink();
      const engine = createNatEngine(INPUT, {
        sink,
        random: createSeededRandom(3),
        startMs: 0,
        shard,
        epoch: 1,
      });
      engine.start(0);
      const key = createFlowKey6();
      key.protocol = Protocol.Udp;
      key.src6.set([0x20010db8, 0x100, 0, 1]);
      key.srcPort = 4000;
      key.dst4 = 0xc6336402;
      key.dstPort = 53;
      expect(engine.outbound6(key, 0)).toBe(EngineVerdict.Translate);
      engine.flush(0);
      const tracer = trace.getTracer('test');
      let takeoverTraceId = '';
      let takeoverSpanId = '';
      const lease = await traced(tracer, 'test.takeover', {}, async () => {
        const span = trace.getActiveSpan()!.spanContext();
        takeoverTraceId = span.traceId;
        takeoverSpanId = span.spanId;
        const held = await owners.acquire(shard, null, 0);
        await ownerLog.append({
          shard,
          epoch: held.record.epoch,
          sequence: 1,
          eventCount: sink.events.length,
          payload: encodeNatEventBatch(sink.events),
        });
        return held;
      });
      await standby.caughtUp(1);
      await standby.stop();
      expect(standby.follower.counters.appliedEvents).toBe(sink.events.length);
      await tracing.flush();
      const finished = memory.getFinishedSpans();
      const apply = finished.find((s: ReadableSpan) => s.name === 'state.standby.apply');
      expect(apply?.spanContext().traceId).toBe(takeoverTraceId);
      expect(apply?.parentSpanContext?.spanId).toBe(takeoverSpanId);
      const acquire = finished.find((s: ReadableSpan) => s.name === 'state.ownership.acquire');
      expect(acquire?.spanContext().traceId).toBe(takeoverTraceId);
      const stored = await owners.find(shard);
      expect(stored?.revision).toBe(lease.revision);
      expect(stored?.record.traceparent).toBe(`00-${takeoverTraceId}-${acquire?.spanContext().spanId}-01`);
    });
  });
});
