// Kafka stopped in the middle of the stream (SIGKILL, as a crash) and restarted on its own data: the
// outbox waits with its lag counted, then every record reaches the topic exactly once. Uses its own
// broker (started by the same infra/kafka scripts) so the run's shared broker keeps serving others.
// While Kafka is down, the outbox's lag gauges (libs/telemetry outboxMetrics) report what it holds.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type KafkaBroker,
  removeKafkaDir,
  startKafka,
  stopKafka,
  waitForKafka,
} from '../../infra/kafka/broker.js';
import { outboxMetrics, startMetricsEndpoint } from '../../libs/telemetry/src/index.js';
import {
  ComplianceOutbox,
  defaultDeriverOptions,
  defaultOutboxOptions,
  eventLogSource,
} from '../../services/state/src/index.js';
import { baseTimeMs, churn, EngineDriver, expectedRecords, readTopic, temporaryDir } from './support.js';

describe('compliance outbox across a Kafka crash and restart', () => {
  let broker: KafkaBroker;
  beforeAll(async () => {
    broker = await startKafka();
    await waitForKafka(broker.bootstrap, { dir: broker.dir, pid: broker.pid });
  }, 180_000);
  afterAll(async () => {
    if (broker !== undefined) {
      await stopKafka(broker);
      removeKafkaDir(broker);
    }
  });

  it('waits while Kafka is down, counts its lag, and afterwards has every record once', async () => {
    // Proves "nothing lost, nothing duplicated" across a broker crash: record ids in the topic equal
    // an independent derivation of the whole event log, and the outbox reported the outage as lag.
    const dir = temporaryDir();
    const driver = await EngineDriver.open(`${dir.path}/events`, baseTimeMs());
    const topic = 'compliance-restart';
    const outbox = new ComplianceOutbox(eventLogSource(driver.log, [0]), {
      ...defaultOutboxOptions,
      kafka: { brokers: [broker.bootstrap], connectionTimeoutMs: 500 },
      topic,
      partitions: 4,
      checkpointPath: `${dir.path}/outbox.json`,
      deriver: { ...defaultDeriverOptions, blockSizePorts: driver.engine.config.blockSizePorts },
      recordsPerSendMax: 40,
      pollIntervalMs: 20,
      retryIntervalMs: 200,
    });
    try {
      await outbox.start();
      // Traffic while Kafka is up.
      churn(driver, 25, 3_600_000, 11);
      while (outbox.status().producedRecords < 100) await new Promise((r) => setTimeout(r, 10));
      // Crash the broker in the middle of the stream (records of the first hour still unsent); traffic continues.
      await stopKafka(broker, { kill: true });
      const firstHour = (
        await expectedRecords(driver, {
          blockSizePorts: driver.engine.config.blockSizePorts,
        })
      ).length;
      expect(outbox.status().producedRecords).toBeLessThan(firstHour);
      churn(driver, 25, 3_600_000, 12);
      const deadline = Date.now() + 30_000;
      while (outbox.status().state !== 'waiting-for-kafka' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const down = outbox.status();
      expect(down.state).toBe('waiting-for-kafka');
      expect(down.lagBatches).toBeGreaterThan(0);
      expect(down.lastError).not.toBeNull();
      // The failed round's records wait; the oldest one's event time is the smallest among them.
      expect(down.pendingRecords).toBeGreaterThan(0);
      expect(down.oldestPendingAtMs).toBeGreaterThanOrEqual(baseTimeMs());
      // The same figures as Prometheus gauges, read from status() at the scrape.
      const endpoint = await startMetricsEndpoint({
        listen: { host: '127.0.0.1', port: 0 },
        counters: { names: [], blocks: [] },
      });
      try {
        endpoint.observe(outboxMetrics(() => outbox.status()));
        const before = outbox.status();
        const t0 = Date.now();
        const text = await (await fetch(`${endpoint.url}/metrics`)).text();
        const t1 = Date.now();
        const gauge = (name: string) =>
          Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1]);
        expect(outbox.status()).toMatchObject({
          pendingRecords: before.pendingRecords,
          lagBatches: before.lagBatches,
        });
        expect(gauge('xlat64_compliance_outbox_pending')).toBe(before.pendingRecords);
        expect(gauge('xlat64_compliance_outbox_lag')).toBe(before.lagBatches);
        const age = gauge('xlat64_compliance_outbox_oldest_pending_age');
        expect(age).toBeGreaterThanOrEqual((t0 - (before.oldestPendingAtMs as number)) / 1000);
        expect(age).toBeLessThanOrEqual((t1 - (before.oldestPendingAtMs as number)) / 1000);
        expect(gauge('xlat64_compliance_outbox_lost')).toBe(before.lostBatches);
        // Every compliance metric the alerting rules name is one this scrape has.
        const rules = readFileSync(
          new URL('../../infra/prometheus/xlat64-alerts.yml', import.meta.url),
          'utf8',
        );
        const named = [...new Set(rules.match(/xlat64_compliance_\w+/g))];
        expect(named.length).toBeGreaterThan(0);
        expect(named.filter((name) => Number.isNaN(gauge(name)))).toEqual([]);
      } finally {
        await endpoint.stop();
      }
      // Restart on the same directory (same ports, same data) and finish.
      broker = await startKafka({ dir: broker.dir });
      await waitForKafka(broker.bootstrap, { dir: broker.dir, pid: broker.pid });
      churn(driver, 25, 1_800_000, 13);
      await driver.settle();
      await outbox.drain(120_000);
      expect(outbox.status()).toMatchObject({
        state: 'running',
        lagBatches: 0,
        pendingRecords: 0,
        oldestPendingAtMs: null,
      });
      const expected = await expectedRecords(driver, { blockSizePorts: driver.engine.config.blockSizePorts });
      const ids = (await readTopic(broker.bootstrap, topic)).map((t) => t.record.id);
      expect(ids.length).toBe(expected.length);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(expected.map((r) => r.id).sort());
    } finally {
      await outbox.stop();
      await driver.stop();
      dir.remove();
    }
  });
});
