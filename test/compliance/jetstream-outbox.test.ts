// The compliance outbox in cluster mode against the real nats-server and Kafka broker: the NAT engine's
// events of two shards go to the JetStream event log as the cluster state writes them; the node owning
// the shards produces their records; it is stopped and started again (once with its last commits lost,
// as a crash between send and commit leaves them), then another node takes shard 0 over with a new
// epoch — and every record id derived from the log is in the topic exactly once, takeover records too.
import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type NatEngineConfigInput, validateConfig } from '../../services/nat-engine/src/index.js';
import {
  ClusterCompliance,
  type ComplianceRecord,
  connectNats,
  JetStreamEventLog,
  parseComplianceConfig,
  ShardOwnership,
} from '../../services/state/src/index.js';
import {
  baseTimeMs,
  churn,
  EngineDriver,
  expectedRecords,
  kafkaForTests,
  readTopic,
  uniqueTopic,
} from './support.js';

const ENGINE: Partial<NatEngineConfigInput> = {
  pool: ['203.0.113.0/30'],
  blockSizePorts: 512,
  sessionsMax: 8192,
  subscribersMax: 1024,
};
const ID_PREFIX = 'c-test/';

let nc: NatsConnection;
beforeAll(async () => {
  nc = await connectNats({ url: inject('natsUrl'), name: 'compliance-jetstream-test' });
});
afterAll(async () => {
  await nc?.close();
});

async function waitFor(what: string, condition: () => boolean, detail: () => unknown, timeoutMs = 45_000) {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(detail())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('compliance outbox over the JetStream event log (cluster state)', () => {
  it('produces every record id exactly once across an outbox restart, lost commits and a takeover', async () => {
    const broker = await kafkaForTests();
    const topic = uniqueTopic('js-outbox');
    const tag = randomUUID().slice(0, 8);
    const names = {
      stream: `XLAT64_CT_${tag}`,
      subjectPrefix: `x64ct.${tag}`,
      snapshotBucket: `x64ct-snap-${tag}`,
      ownershipBucket: `x64ct-own-${tag}`,
      checkpointBucket: `x64ct-cp-${tag}`,
    };
    const config = parseComplianceConfig(`kafka://${broker.bootstrap}/${topic}`)!;
    const engine = validateConfig(ENGINE as NatEngineConfigInput);
    const writer = await JetStreamEventLog.open(nc, names);
    const start = baseTimeMs();
    const shard0 = EngineDriver.over(writer, start, 0, 1, ENGINE, 11);
    const shard1 = EngineDriver.over(writer, start, 1, 1, ENGINE, 12);
    const a = await ShardOwnership.open(nc, 'node-a', names.ownershipBucket);
    const b = await ShardOwnership.open(nc, 'node-b', names.ownershipBucket);
    await a.acquire(0, null, Date.now());
    await a.acquire(1, null, Date.now());
    const kv = await new Kvm(jetstream(nc)).open(names.checkpointBucket);

    const node = (nodeId: string) =>
      ClusterCompliance.start({
        config,
        nc,
        nodeId,
        shards: [0, 1],
        idPrefix: ID_PREFIX,
        engine,
        natConfiguration: ENGINE as NatEngineConfigInput,
        names,
        tenantOf,
        ownershipPollMs: 100,
        handoverGraceMs: 400,
        tuning: { pollIntervalMs: 50, retryIntervalMs: 200, connectionTimeoutMs: 3000 },
      });
    // Two tenants by the parity of the subscriber's third group (2001:db8:N::/56): the records must name them as this table does.
    const tenantOf = (subscriber: ArrayLike<number>) => ({
      name: (subscriber[1] >>> 16) % 2 === 0 ? 'isp-even' : 'isp-odd',
      subscriberPrefixLength: engine.subscriberPrefixLength,
    });
    const caughtUp = async (outbox: ClusterCompliance, shards: number[]) => {
      const target = (await writer.tailSequence(0)) + (await writer.tailSequence(1));
      await waitFor(
        `shards ${shards} produced to the log's end`,
        () => {
          const s = outbox.status();
          return s.producingShards.join() === shards.join() && s.lagBatches === 0 && s.state === 'running';
        },
        () => ({ target, status: outbox.status() }),
      );
    };
    const running: ClusterCompliance[] = [];
    try {
      // Phase 1: node A owns both shards and produces them.
      churn(shard0, 8, 8 * 60_000, 1);
      churn(shard1, 8, 8 * 60_000, 2);
      await Promise.all([shard0.settle(), shard1.settle()]);
      let outboxA = await node('node-a');
      running.push(outboxA);
      await caughtUp(outboxA, [0, 1]);
      const phase1Commits = await Promise.all([kv.get(`${topic}.0`), kv.get(`${topic}.1`)]);
      expect(phase1Commits.map((e) => e?.json<{ position: number }>().position)).toEqual([
        await writer.tailSequence(0),
        await writer.tailSequence(1),
      ]);

      // Phase 2: more traffic while A runs, then A stops without draining and starts again.
      churn(shard0, 8, 6 * 60_000, 3);
      churn(shard1, 8, 6 * 60_000, 4);
      await Promise.all([shard0.settle(), shard1.settle()]);
      await outboxA.stop(0);
      running.splice(running.indexOf(outboxA), 1);
      outboxA = await node('node-a');
      running.push(outboxA);
      await caughtUp(outboxA, [0, 1]);

      // Phase 3: A's commits of phase 2 are lost (put back as phase 1 left them, the state a crash between
      // Kafka's ack and the commit leaves): the restarted A reads the topic back and sends nothing twice.
      await outboxA.stop(0);
      running.splice(running.indexOf(outboxA), 1);
      for (const [shard, entry] of phase1Commits.entries())
        await kv.put(`${topic}.${shard}`, entry!.string());
      outboxA = await node('node-a');
      running.push(outboxA);
      await caughtUp(outboxA, [0, 1]);
      expect(outboxA.status().duplicatesSkipped, JSON.stringify(outboxA.status())).toBeGreaterThan(0);

      // Phase 4: node B takes shard 0 over (epoch 2) and writes on; A keeps shard 1.
      const outboxB = await node('node-b');
      running.push(outboxB);
      const seen = await b.find(0);
      await b.acquire(0, seen, Date.now());
      shard0.epoch = 2;
      churn(shard0, 8, 6 * 60_000, 5);
      churn(shard1, 8, 6 * 60_000, 6);
      await Promise.all([shard0.settle(), shard1.settle()]);
      await caughtUp(outboxB, [0]);
      await caughtUp(outboxA, [1]);
      for (const outbox of running.splice(0)) await outbox.stop(0);

      const deriver = {
        idPrefix: ID_PREFIX,
        blockSizePorts: engine.blockSizePorts,
        subscriberPrefixLength: engine.subscriberPrefixLength,
        deterministic: engine.deterministic,
        tenantOf,
      };
      const expected = [
        ...(await expectedRecords(shard0, deriver)),
        ...(await expectedRecords(shard1, deriver)),
      ];
      const inTopic = await readTopic(broker.bootstrap, topic);
      const counts = new Map<string, number>();
      for (const { record } of inTopic) counts.set(record.id, (counts.get(record.id) ?? 0) + 1);
      const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
      const missing = expected.filter((r) => !counts.has(r.id)).map((r) => r.id);
      const unexpected = [...counts.keys()].filter((id) => !expected.some((r) => r.id === id));
      expect({ duplicated, missing, unexpected }).toEqual({ duplicated: [], missing: [], unexpected: [] });
      expect(inTopic.length).toBe(expected.length);
      const byId = new Map<string, ComplianceRecord>(inTopic.map((t) => [t.record.id, t.record]));
      const takeovers = expected.filter((r) => r.kind === 'block-takeover');
      expect(takeovers.length, 'shard 0 held blocks when B took it over').toBeGreaterThan(0);
      for (const t of takeovers)
        expect(byId.get(t.id)).toMatchObject({ kind: 'block-takeover', shard: 0, epoch: 2 });
      expect(expected.filter((r) => r.kind === 'block-release').length).toBeGreaterThan(0);
      // Each record names its subscriber's tenant, as derived from the log with the same table.
      const tenantOfId = new Map(expected.map((r) => [r.id, r.tenant]));
      expect(inTopic.filter((t) => t.record.tenant !== tenantOfId.get(t.record.id))).toEqual([]);
      expect(new Set(inTopic.map((t) => t.record.tenant))).toEqual(new Set(['isp-even', 'isp-odd']));
    } finally {
      for (const outbox of running) await outbox.stop(0).catch(() => undefined);
      await shard0.stop();
      await shard1.stop().catch(() => undefined);
      const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
      await jsm.streams.delete(names.stream).catch(() => undefined);
      for (const bucket of [names.ownershipBucket, names.checkpointBucket])
        await jsm.streams.delete(`KV_${bucket}`).catch(() => undefined);
      await jsm.streams.delete(`OBJ_${names.snapshotBucket}`).catch(() => undefined);
    }
  }, 120_000);
});
