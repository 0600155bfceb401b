// Kafka stopped in the middle of the stream (SIGKILL, as a crash) and restarted on its own data: the
// outbox waits with its lag counted, then every record reaches the topic exactly once. Uses its own
// broker (started by the same infra/kafka scripts) so the run's shared broker keeps serving others.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type KafkaBroker,
  removeKafkaDir,
  startKafka,
  stopKafka,
  waitForKafka,
} from '../../infra/kafka/broker.js';
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
      // Restart on the same directory (same ports, same data) and finish.
      broker = await startKafka({ dir: broker.dir });
      await waitForKafka(broker.bootstrap, { dir: broker.dir, pid: broker.pid });
      churn(driver, 25, 1_800_000, 13);
      await driver.settle();
      await outbox.drain(120_000);
      expect(outbox.status()).toMatchObject({ state: 'running', lagBatches: 0 });
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
