// RFC 7422 deterministic mode in the compliance log, on the real broker: leases of deterministic
// subscribers produce no records, the configuration history does, and lookup computes the holder
// from the configuration in effect at the time (both around a configuration change).
import { afterEach, describe, expect, it } from 'vitest';
import type { NatEngineConfigInput } from '../../services/nat-engine/src/index.js';
import {
  ComplianceOutbox,
  createKafka,
  defaultDeriverOptions,
  defaultOutboxOptions,
  eventLogSource,
  lookupInKafka,
  readConfigHistory,
} from '../../services/state/src/index.js';
import { baseTimeMs, EngineDriver, kafkaForTests, readTopic, temporaryDir, uniqueTopic } from './support.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('RFC 7422 deterministic mode', () => {
  it('logs the configuration instead of leases, and lookup computes the holder from it', async () => {
    // Proves: no block record for a deterministic subscriber's lease; one config record per distinct
    // configuration; the lookup's answer is the subscriber the formula gives, with the config record
    // as evidence, bounded by the next configuration's start.
    const broker = await kafkaForTests();
    const dir = temporaryDir();
    const startMs = baseTimeMs();
    const nat: NatEngineConfigInput = {
      pool: ['203.0.113.0/30'],
      deterministic: { ipv6Prefix: '2001:db8:100::/40' },
    };
    const driver = await EngineDriver.open(`${dir.path}/events`, startMs, nat);
    cleanups.push(async () => {
      await driver.stop();
      dir.remove();
    });
    const mapped = driver.flow('2001:db8:100:500::1', 7000);
    driver.advance(15 * 60_000);
    const topic = uniqueTopic('rfc7422');
    const options = (configuration: { nat: NatEngineConfigInput; fromMs: number }) => ({
      ...defaultOutboxOptions,
      kafka: { brokers: [broker.bootstrap] },
      topic,
      checkpointPath: `${dir.path}/outbox.json`,
      deriver: { ...defaultDeriverOptions, deterministic: driver.engine.config.deterministic },
      pollIntervalMs: 20,
      configuration,
    });
    const run = async (configuration: { nat: NatEngineConfigInput; fromMs: number }) => {
      const outbox = new ComplianceOutbox(eventLogSource(driver.log, [0]), options(configuration));
      await outbox.start();
      await driver.settle();
      await outbox.drain(60_000);
      await outbox.stop();
    };
    await run({ nat, fromMs: startMs });
    await run({ nat, fromMs: startMs + 60_000 }); // the same configuration again: not logged twice
    const changeMs = startMs + 30 * 60_000;
    await run({ nat: { ...nat, pool: ['203.0.113.4/30'] }, fromMs: changeMs });

    // The lease and release events exist, their records do not.
    expect(driver.events.filter((e) => e.type === 1 || e.type === 2).length).toBe(2);
    expect(await readTopic(broker.bootstrap, topic)).toEqual([]);
    const kafka = createKafka({ brokers: [broker.bootstrap] });
    const admin = kafka.admin();
    await admin.connect();
    const history = await readConfigHistory(kafka, admin, topic);
    await admin.disconnect();
    expect(history.map((r) => r.fromMs)).toEqual([startMs, changeMs]);

    const lookup = (atMs: number, skewMs: number) =>
      lookupInKafka(
        { address: mapped.address, port: mapped.port, protocol: 'udp', atMs, skewMs },
        {
          kafka: { brokers: [broker.bootstrap] },
          topic,
          heldIntervalMs: defaultDeriverOptions.heldIntervalMs,
        },
      );
    const during = await lookup(startMs + 5 * 60_000, 2000);
    expect(during.holders).toHaveLength(1);
    expect(during.holders[0]).toMatchObject({
      level: 'deterministic',
      subscriber: '2001:db8:100:500::/56',
      startMs,
      endMs: changeMs,
      evidence: [{ id: history[0].id, kind: 'config' }],
    });
    expect(mapped.port).toBeGreaterThanOrEqual(during.holders[0].portFirst);
    expect(mapped.port).toBeLessThanOrEqual(during.holders[0].portLast);
    // After the change the address is not in the pool: nobody held it.
    expect((await lookup(changeMs + 60_000, 2000)).holders).toEqual([]);
    // A window across the change still names the holder under the old configuration.
    expect((await lookup(changeMs + 1000, 5000)).holders.map((h) => h.subscriber)).toEqual([
      '2001:db8:100:500::/56',
    ]);
  });
});
