// The compliance outbox of `xlat64 plat` reads the workers' embedded logs through a read-only tail
// (services/state compliance/embedded-tail.ts) while the workers keep writing them. These tests write
// a real embedded log with the real NAT engine and check the tail against the log's own reader, a
// record caught half-written, compaction by a snapshot, and the outbox over the tail into the real broker.
import { appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ComplianceOutbox,
  defaultDeriverOptions,
  defaultOutboxOptions,
  EmbeddedLogTail,
  encodeRecord,
  eventLogSource,
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

async function openDriver(): Promise<{ driver: EngineDriver; logDir: string; dir: string }> {
  const dir = temporaryDir();
  const logDir = `${dir.path}/events`;
  const driver = await EngineDriver.open(logDir, baseTimeMs());
  cleanups.push(async () => {
    await driver.stop();
    dir.remove();
  });
  return { driver, logDir, dir: dir.path };
}

async function readAll(source: ReturnType<typeof eventLogSource>, after: number) {
  const out = [];
  for (;;) {
    const batches = await source.read(0, out.at(-1)?.sequence ?? after, 7);
    if (batches.length === 0) return out;
    out.push(...batches);
  }
}

describe('EmbeddedLogTail: a read-only tail of an embedded log another writer appends to', () => {
  it('returns what the log itself returns, and batches appended after its first look', async () => {
    // Proves the tail indexes the writer's segment as it grows: same sequences and decoded events as
    // the log's own reader, before and after more appends by the still-open writer.
    const { driver, logDir } = await openDriver();
    churn(driver, 10, 600_000, 3);
    await driver.settle();
    const tail = eventLogSource(new EmbeddedLogTail([{ shard: 0, directory: logDir }]), [0]);
    const first = await readAll(tail, 0);
    expect(first).toEqual(await driver.batches());
    expect(first.length).toBeGreaterThan(5);
    churn(driver, 10, 600_000, 4);
    await driver.settle();
    const all = await driver.batches();
    expect(await tail.lastSequence(0)).toBe(all.at(-1)?.sequence);
    expect(await readAll(tail, first.at(-1)?.sequence ?? 0)).toEqual(all.slice(first.length));
  });

  it('does not return a record until all of it is written', async () => {
    // Proves a reader racing the writer never sees a partial batch: half a record is invisible, the
    // whole record appears once its last byte is there.
    const { driver, logDir } = await openDriver();
    driver.flow('2001:db8:1::1', 1000);
    await driver.settle();
    const batches = await driver.batches();
    const last = batches.at(-1)?.sequence ?? 0;
    await driver.stop();
    const tail = eventLogSource(new EmbeddedLogTail([{ shard: 0, directory: logDir }]), [0]);
    expect(await tail.lastSequence(0)).toBe(last);
    const segment = readdirSync(logDir)
      .filter((n) => n.startsWith('log-'))
      .sort()
      .at(-1) as string;
    // A batch of the same events as the first one, under the next sequence.
    const payload = (await new EmbeddedLogTail([{ shard: 0, directory: logDir }])
      .read(0, 0)
      [Symbol.asyncIterator]()
      .next()) as IteratorResult<{ payload: Uint8Array; eventCount: number }>;
    const record = Buffer.alloc(26 + payload.value.payload.byteLength);
    encodeRecord(
      {
        shard: 0,
        epoch: 0,
        sequence: last + 1,
        eventCount: payload.value.eventCount,
        payload: payload.value.payload,
      },
      record,
      0,
    );
    appendFileSync(join(logDir, segment), record.subarray(0, 30));
    expect(await tail.lastSequence(0)).toBe(last);
    expect(await tail.read(0, last, 10)).toEqual([]);
    appendFileSync(join(logDir, segment), record.subarray(30));
    expect(await tail.lastSequence(0)).toBe(last + 1);
    const read = await tail.read(0, last, 10);
    expect(read.map((b) => b.sequence)).toEqual([last + 1]);
    expect(read[0].events).toEqual(batches[0].events);
  });

  it('follows compaction: after a snapshot the first sequence moves and the deleted segment is forgotten', async () => {
    // Proves the tail sees where a snapshot cut the log (as the outbox needs to count lost batches)
    // and keeps reading the batches written after it from the new segment.
    const { driver, logDir } = await openDriver();
    churn(driver, 10, 300_000, 5);
    await driver.settle();
    const tailLog = new EmbeddedLogTail([{ shard: 0, directory: logDir }]);
    const tail = eventLogSource(tailLog, [0]);
    const before = await tail.lastSequence(0);
    expect(await readAll(tail, 0)).toHaveLength(before);
    await driver.log.put({
      shard: 0,
      epoch: 0,
      sequence: before,
      timeMs: driver.nowMs,
      payload: new Uint8Array(8),
    });
    churn(driver, 10, 300_000, 6);
    await driver.settle();
    expect(await tail.firstSequence(0)).toBe(before + 1);
    await expect(async () => {
      for await (const _ of tailLog.read(0, 0)) break;
    }).rejects.toMatchObject({ code: 'XLAT64_ERR_LOG_COMPACTED' });
    const after = await readAll(tail, before);
    expect(after.map((b) => b.sequence)).toEqual((await driver.batches()).map((b) => b.sequence));
    expect(after[0].sequence).toBe(before + 1);
  });

  it('feeds the outbox: the topic holds exactly the records derived from the log, with the node id prefix', async () => {
    // Proves the PLAT's path (outbox over the tail) end to end on the real broker: every record id
    // derived independently from the log is in the topic once, each prefixed with the node's tag.
    const broker = await kafkaForTests();
    const { driver, logDir, dir } = await openDriver();
    churn(driver, 20, 1_800_000, 7);
    await driver.settle();
    const topic = uniqueTopic('compliance-tail');
    const deriver = {
      ...defaultDeriverOptions,
      blockSizePorts: driver.engine.config.blockSizePorts,
      idPrefix: 'node-a/w2/',
    };
    const outbox = new ComplianceOutbox(
      eventLogSource(new EmbeddedLogTail([{ shard: 0, directory: logDir }]), [0]),
      {
        ...defaultOutboxOptions,
        kafka: { brokers: [broker.bootstrap] },
        topic,
        partitions: 4,
        checkpointPath: `${dir}/outbox.json`,
        deriver,
        pollIntervalMs: 20,
      },
    );
    cleanups.push(() => outbox.stop());
    await outbox.start();
    churn(driver, 20, 600_000, 8); // written while the outbox runs
    await driver.settle();
    await outbox.drain(60_000);
    const expected = (await expectedRecords(driver, deriver)).map((r) => r.id).sort();
    expect(expected.length).toBeGreaterThan(20);
    expect(expected.every((id) => id.startsWith('node-a/w2/') || id.startsWith('h:node-a/w2/'))).toBe(true);
    const ids = (await readTopic(broker.bootstrap, topic)).map((t) => t.record.id).sort();
    expect(ids).toEqual(expected);
  });
});
