// The replication-lag hooks against the real nats-server, exported through libs/telemetry's metrics
// endpoint: every batch the JetStream log acknowledges is one append-to-ack observation (and its events
// are counted), every batch a standby on another connection applies is one standby-lag observation,
// and the Prometheus text has them under the names the dashboards use.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createReplicationMetrics,
  type MetricsEndpoint,
  startMetricsEndpoint,
} from '../../../libs/telemetry/src/index.js';
import {
  ArrayEventSink,
  createFlowKey6,
  createNatEngine,
  createReplayState,
  createSeededRandom,
  EngineVerdict,
  encodeNatEventBatch,
  Protocol,
  validateConfig,
} from '../../nat-engine/src/index.js';
import { JetStreamEventLog } from '../src/jetstream-log.js';
import { connectNats } from '../src/nats-connection.js';
import { ShardStandby } from '../src/standby.js';

const CONFIG = { pool: ['203.0.113.0/30'], sessionsMax: 4096, subscribersMax: 128 };
let ncOwner: NatsConnection;
let ncStandby: NatsConnection;
let endpoint: MetricsEndpoint;

beforeAll(async () => {
  ncOwner = await connectNats({ url: inject('natsUrl'), name: 'metrics-owner' });
  ncStandby = await connectNats({ url: inject('natsUrl'), name: 'metrics-standby' });
  endpoint = await startMetricsEndpoint({
    listen: { host: '127.0.0.1', port: 0 },
    counters: { names: [], blocks: [], attributes: { role: 'plat' } },
  });
});
afterAll(async () => {
  await endpoint?.stop();
  await ncOwner?.close();
  await ncStandby?.close();
});

/** Sum of the samples of `name` whose label set contains `labels`. */
function sample(text: string, name: string, labels: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('replication-lag metrics', () => {
  it('counts one append-to-ack and one standby-lag observation per batch, and the appended events', async () => {
    // Proves the hooks fire once per acknowledged / applied batch and reach the Prometheus text.
    const id = randomUUID().slice(0, 8);
    const names = { stream: `M_${id}`, subjectPrefix: `m.${id}`, snapshotBucket: `msnap-${id}` };
    const shard = 5;
    const metrics = createReplicationMetrics(endpoint.meter);
    const ownerLog = await JetStreamEventLog.open(ncOwner, { ...names, metrics });
    const standbyLog = await JetStreamEventLog.open(ncStandby, names);
    const replica = createReplayState(validateConfig(CONFIG), 0);
    const standby = new ShardStandby(standbyLog, shard, replica, { sequence: 0, epoch: 0 }, { metrics });
    await standby.start();

    const sink = new ArrayEventSink();
    const engine = createNatEngine(CONFIG, {
      sink,
      random: createSeededRandom(9),
      startMs: 0,
      shard,
      epoch: 1,
    });
    engine.start(0);
    const key = createFlowKey6();
    const BATCHES = 6;
    let events = 0;
    for (let b = 1; b <= BATCHES; b++) {
      sink.events.length = 0;
      key.protocol = Protocol.Udp;
      key.src6.set([0x20010db8, b << 8, 0, 1]);
      key.srcPort = 1000 + b;
      key.dst4 = 0xc6336402;
      key.dstPort = 53;
      expect(engine.outbound6(key, b)).toBe(EngineVerdict.Translate);
      engine.flush(b);
      events += sink.events.length;
      await ownerLog.append({
        shard,
        epoch: 1,
        sequence: b,
        eventCount: sink.events.length,
        payload: encodeNatEventBatch(sink.events),
      });
    }
    await standby.caughtUp(BATCHES);
    await standby.stop();
    expect(standby.follower.counters.appliedBatches).toBe(BATCHES);

    const text = await (await fetch(`${endpoint.url}/metrics`)).text();
    const shardLabel = `shard="${shard}"`;
    expect(sample(text, 'xlat64_replication_append_duration_count', shardLabel)).toBe(BATCHES);
    expect(sample(text, 'xlat64_replication_standby_lag_count', shardLabel)).toBe(BATCHES);
    expect(sample(text, 'xlat64_replication_appended_events_total', shardLabel)).toBe(events);
    // Every observation is within the histogram's last finite bucket or above: the +Inf bucket holds all.
    expect(sample(text, 'xlat64_replication_append_duration_bucket', 'le="+Inf"')).toBe(BATCHES);
    // The durations are real measurements (positive), not zeros.
    expect(sample(text, 'xlat64_replication_append_duration_sum', shardLabel)).toBeGreaterThan(0);
  });
});
