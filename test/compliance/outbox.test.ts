// The compliance outbox against the run's real Kafka broker: records for leases and releases made
// by the real NAT engine reach the topic exactly once (also across an outbox restart that lost its
// last checkpoints), keyed and partitioned by external address, and lookup names the right holders.
import { copyFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { KafkaBroker } from '../../infra/kafka/broker.js';
import {
  ComplianceDeriver,
  ComplianceOutbox,
  type ComplianceOutboxOptions,
  type ComplianceRecord,
  defaultDeriverOptions,
  defaultOutboxOptions,
  eventLogSource,
  lookupInKafka,
  PACK_SPAN_MS_MAX,
  partitionOf,
} from '../../services/state/src/index.js';
import {
  baseTimeMs,
  churn,
  EngineDriver,
  expectedRecords,
  kafkaForTests,
  readTopic,
  temporaryDir,
  uniqueTopic,
} from './support.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(broker: KafkaBroker, config: Parameters<typeof EngineDriver.open>[2] = {}) {
  const dir = temporaryDir();
  const driver = await EngineDriver.open(`${dir.path}/events`, baseTimeMs(), config);
  cleanups.push(async () => {
    await driver.stop();
    dir.remove();
  });
  const topic = uniqueTopic('compliance');
  const options: ComplianceOutboxOptions = {
    ...defaultOutboxOptions,
    kafka: { brokers: [broker.bootstrap] },
    topic,
    partitions: 3,
    checkpointPath: `${dir.path}/outbox.json`,
    deriver: { ...defaultDeriverOptions, blockSizePorts: driver.engine.config.blockSizePorts },
    recordsPerSendMax: 50, // several sends per drain, so a restart falls between them
    pollIntervalMs: 20,
    retryIntervalMs: 200,
  };
  const outbox = (overrides: Partial<ComplianceOutboxOptions> = {}): ComplianceOutbox => {
    const o = new ComplianceOutbox(eventLogSource(driver.log, [0]), { ...options, ...overrides });
    cleanups.push(() => o.stop());
    return o;
  };
  return { driver, options, outbox, dir };
}

describe('compliance outbox on the real broker', () => {
  it('puts exactly the derived records in the topic, once each, keyed and partitioned by address', async () => {
    // Proves the pipeline end to end: ids and contents equal an independent derivation of the same
    // event log, no id twice, packed (several records per message, the records of one partition),
    // partition = address mod partitions, key = the address when the pack holds only its records,
    // timestamp = the pack's oldest atMs, at most PACK_SPAN_MS_MAX of record time per pack.
    const broker = await kafkaForTests();
    const { driver, options, outbox } = await setup(broker);
    churn(driver, 30, 3 * 3_600_000);
    const expected = await expectedRecords(driver, options.deriver);
    expect(expected.filter((r) => r.kind === 'block-release').length).toBeGreaterThan(20);
    expect(expected.filter((r) => r.kind === 'block-held').length).toBeGreaterThan(5);
    const o = outbox();
    await o.start();
    await driver.settle();
    await o.drain(60_000);
    expect(o.status()).toMatchObject({ state: 'running', lagBatches: 0, producedRecords: expected.length });
    const inTopic = await readTopic(broker.bootstrap, options.topic);
    expect(inTopic.map((t) => t.record.id).sort()).toEqual(expected.map((r) => r.id).sort());
    const byId = new Map(expected.map((r) => [r.id, r]));
    const messages = new Map<string, number[]>();
    for (const t of inTopic) {
      expect(t.record).toEqual(byId.get(t.record.id));
      // A pack of one address's records is keyed by it; a pack mixing a partition's addresses has no key.
      if (t.key !== '') expect(t.key).toBe(t.record.address);
      expect(t.partition).toBe(partitionOf(t.record.address, 3));
      const where = `${t.partition}/${t.offset}`;
      messages.set(where, [...(messages.get(where) ?? []), t.record.atMs]);
      expect(t.timestampMs).toBeLessThanOrEqual(t.record.atMs);
    }
    for (const [where, times] of messages) {
      const timestampMs = inTopic.find((t) => `${t.partition}/${t.offset}` === where)?.timestampMs;
      expect(timestampMs, where).toBe(Math.min(...times));
      expect(Math.max(...times) - Math.min(...times), where).toBeLessThanOrEqual(PACK_SPAN_MS_MAX);
    }
    expect(messages.size, 'messages carry several records').toBeLessThan(inTopic.length / 2);
  });

  it('after a restart that lost its last checkpoints, sends what is missing and nothing twice', async () => {
    // Proves the restart path: the topic's tail beyond the (stale) checkpoint is read back and the
    // records already there are skipped; new events after the restart are forwarded too.
    const broker = await kafkaForTests();
    const { driver, options, outbox, dir } = await setup(broker);
    churn(driver, 20, 3_600_000, 2);
    const first = outbox();
    await first.start();
    // Wait for some progress, keep that checkpoint, let it finish, then put the old one back: as if
    // the process died after Kafka acknowledged the later sends but before it recorded them.
    while (first.status().producedRecords < 60) await new Promise((r) => setTimeout(r, 10));
    copyFileSync(options.checkpointPath, `${dir.path}/stale.json`);
    await driver.settle();
    await first.drain(60_000);
    await first.stop();
    copyFileSync(`${dir.path}/stale.json`, options.checkpointPath);
    churn(driver, 20, 3_600_000, 3);
    const second = outbox();
    await second.start();
    await driver.settle();
    await second.drain(60_000);
    const expected = await expectedRecords(driver, options.deriver);
    const ids = (await readTopic(broker.bootstrap, options.topic)).map((t) => t.record.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(expected.map((r) => r.id).sort());
    expect(second.status().duplicatesSkipped).toBeGreaterThan(0);
  });

  it('an upgrade from single-record messages to packs: both formats read, every id once, lookup finds both', async () => {
    // Proves that readers take both formats: a topic written first one record per message (format 1,
    // as earlier builds wrote) and then, from the same checkpoint, packed (format 2) holds every derived
    // id exactly once, and lookup names the holders of leases written in either format.
    const broker = await kafkaForTests();
    const { driver, options, outbox } = await setup(broker);
    churn(driver, 20, 3_600_000, 5);
    await driver.settle();
    const firstLast = await driver.log.lastSequence(0);
    const single = outbox({ format: 'single' });
    await single.start();
    await single.drain(60_000);
    await single.stop();
    churn(driver, 20, 3_600_000, 6);
    const packed = outbox();
    await packed.start();
    await driver.settle();
    await packed.drain(60_000);
    const expected = await expectedRecords(driver, options.deriver);
    const inTopic = await readTopic(broker.bootstrap, options.topic);
    const ids = inTopic.map((t) => t.record.id);
    expect(ids.sort()).toEqual(expected.map((r) => r.id).sort());
    const perMessage = new Map<string, number>();
    for (const t of inTopic)
      perMessage.set(`${t.partition}/${t.offset}`, (perMessage.get(`${t.partition}/${t.offset}`) ?? 0) + 1);
    const sizes = [...perMessage.values()];
    expect(sizes.filter((n) => n === 1).length, 'format 1 messages').toBeGreaterThan(0);
    expect(sizes.filter((n) => n > 1).length, 'format 2 packs').toBeGreaterThan(0);
    const leases = expected.filter((r) => r.kind === 'block-lease');
    const before = leases.find((r) => r.sequence <= firstLast);
    const after = leases.findLast((r) => r.sequence > firstLast);
    for (const lease of [before, after]) {
      expect(lease).toBeDefined();
      if (lease === undefined) continue;
      const result = await lookupInKafka(
        {
          address: lease.address,
          port: lease.portFirst,
          protocol: lease.protocol,
          atMs: lease.atMs,
          skewMs: 0,
        },
        { kafka: options.kafka, topic: options.topic, heldIntervalMs: options.deriver.heldIntervalMs },
      );
      expect(
        result.holders.map((h) => h.leaseId),
        JSON.stringify(result.scanned),
      ).toContain(lease.id);
    }
  });

  it('counts batches compacted away before they were sent as lost, and sends every retained one', async () => {
    // Proves the retention path over the new log: a snapshot that compacted batches the outbox never
    // forwarded shows as lostBatches = those batches, and the topic holds exactly the records of the rest.
    const broker = await kafkaForTests();
    const { driver, options, outbox } = await setup(broker);
    churn(driver, 20, 3_600_000, 4);
    await driver.settle();
    const compacted = 10;
    await driver.log.put({
      shard: 0,
      epoch: 0,
      sequence: compacted,
      timeMs: driver.nowMs,
      payload: new Uint8Array(8),
    });
    const deriver = new ComplianceDeriver(options.deriver);
    const expected: ComplianceRecord[] = [];
    for (const batch of await driver.batches()) {
      if (batch.sequence > compacted) deriver.derive(0, batch.sequence, batch.events, expected);
    }
    expect(expected.length).toBeGreaterThan(20);
    const o = outbox();
    await o.start();
    await o.drain(60_000);
    expect(o.status()).toMatchObject({
      lagBatches: 0,
      lostBatches: compacted,
      producedRecords: expected.length,
    });
    const ids = (await readTopic(broker.bootstrap, options.topic)).map((t) => t.record.id);
    expect(ids.sort()).toEqual(expected.map((r) => r.id).sort());
  });

  it('lookup names the holder before and after a block is released and leased again', async () => {
    // Proves lookupInKafka over the real topic: one pool address, one block per protocol, subscriber
    // A holds it, releases it, B leases it; lookups at times in each lease name A, then B, with the
    // records as evidence, and the handover within the skew names both.
    const broker = await kafkaForTests();
    const { driver, options, outbox } = await setup(broker, {
      pool: ['203.0.113.9/32'],
      blockSizePorts: 64512,
    });
    const a = driver.flow('2001:db8:a:1::1', 1000);
    const aStartMs = driver.nowMs;
    driver.advance(90 * 60_000); // past UDP timeout + block idle timeout, and across a held boundary
    const releaseMs = driver.events.filter((e) => e.type === 2).at(-1)?.timeMs ?? 0;
    driver.advance(60_000);
    const bStartMs = driver.nowMs;
    const b = driver.flow('2001:db8:b:2::1', 2000);
    expect(b.address).toBe(a.address);
    for (let i = 0; i < 40; i++) {
      driver.advance(2 * 60_000); // B keeps its flow alive for 80 min: across a held boundary
      driver.flow('2001:db8:b:2::1', 2000);
    }
    const o = outbox();
    await o.start();
    await driver.settle();
    await o.drain(60_000);
    const lookup = (atMs: number, skewMs: number) =>
      lookupInKafka(
        { address: a.address, port: a.port, protocol: 'udp', atMs, skewMs },
        { kafka: options.kafka, topic: options.topic, heldIntervalMs: options.deriver.heldIntervalMs },
      );
    const atA = await lookup(aStartMs + 60_000, 2000);
    expect(atA.holders.map((h) => [h.subscriber, h.clatPrefix64])).toEqual([
      ['2001:db8:a::/56', '2001:db8:a:1::/64'],
    ]);
    expect(atA.holders[0]).toMatchObject({
      startMs: aStartMs,
      endMs: releaseMs,
      address: a.address,
      shard: 0,
      epoch: 0,
    });
    expect(atA.holders[0].evidence.map((e) => e.kind)).toContain('block-lease');
    const atB = await lookup(driver.nowMs - 5 * 60_000, 2000);
    expect(atB.holders.map((h) => h.subscriber)).toEqual(['2001:db8:b::/56']);
    expect(atB.holders[0]).toMatchObject({ startMs: bStartMs, endMs: null });
    const gap = await lookup((releaseMs + bStartMs) / 2, 2000);
    expect(gap.holders).toEqual([]);
    const both = await lookup((releaseMs + bStartMs) / 2, (bStartMs - releaseMs) / 2);
    expect(both.holders.map((h) => h.subscriber)).toEqual(['2001:db8:a::/56', '2001:db8:b::/56']);
    const otherProtocol = await lookupInKafka(
      { address: a.address, port: a.port, protocol: 'tcp', atMs: aStartMs + 60_000, skewMs: 0 },
      { kafka: options.kafka, topic: options.topic, heldIntervalMs: options.deriver.heldIntervalMs },
    );
    expect(otherProtocol.holders).toEqual([]);
  });
});
