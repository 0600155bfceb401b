// kafkajs 2.2.4 (unmaintained since 2023) against the Kafka 4.1 KRaft broker this run started: the
// four things the compliance log needs from it work, so it stays the client (REFERENCES.md).
import type kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../services/state/src/index.js';
import { kafkaForTests, uniqueTopic } from './support.js';

describe('kafkajs against the real broker', () => {
  let kafka: kafkajs.Kafka;
  let admin: kafkajs.Admin;
  const topic = uniqueTopic('kafkajs-proof');

  beforeAll(async () => {
    const broker = await kafkaForTests();
    kafka = createKafka({ brokers: [broker.bootstrap], clientId: 'kafkajs-proof' });
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
  });

  it('creates a topic with the partitions asked for', async () => {
    // Proves topic creation on KRaft and metadata: the outbox creates its topic itself.
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true })).toBe(
      true,
    );
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0].partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
  });

  it('sends with an idempotent producer and acks=all, into the partition named, at the timestamp given', async () => {
    // Proves the idempotent producer initialises (InitProducerId) and writes where and when it is told.
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const base = Date.now() - 3_600_000;
    const results = await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 30 }, (_, i) => ({
        key: `k${i}`,
        value: `v${i}`,
        partition: i % 3,
        timestamp: String(base + i * 1000),
      })),
    });
    await producer.disconnect();
    expect(results.map((r) => r.errorCode)).toEqual([0, 0, 0]);
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.map((o) => Number(o.high)).sort()).toEqual([10, 10, 10]);
    // Offsets by timestamp: the first message at or after base + 15 s in each partition.
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, base + 15_000);
    const expected = [0, 1, 2].map((p) => {
      const firstIndex = [15, 16, 17].find((i) => i % 3 === p) ?? -1;
      return { partition: p, offset: String(Math.floor(firstIndex / 3)) };
    });
    expect(byTime.sort((a, b) => a.partition - b.partition)).toEqual(expected);
  });

  it('reads a partition from a sought offset with a consumer group', async () => {
    // Proves the consumer side the outbox's tail check and the lookup use: group join, seek, batches in order.
    const consumer = kafka.consumer({ groupId: uniqueTopic('proof-group'), maxWaitTimeInMs: 50 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      // A new group may rebalance once right after its first join, which drops a seek made before
      // it: seeking on every join is what scanPartition does too.
      consumer.on(consumer.events.GROUP_JOIN, () => consumer.seek({ topic, partition: 1, offset: '3' }));
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            if (partition !== 1) return;
            seen.push(message.value?.toString() ?? '');
            if (seen.length === 7) resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    expect(seen).toEqual([10, 13, 16, 19, 22, 25, 28].map((i) => `v${i}`));
  });
});
