// The Kafka side of the compliance log, through kafkajs 2.2.4 (the card's client; proven against
// Kafka 4.1 KRaft by test/compliance). Records are keyed by external IPv4 address and placed in
// partition `address mod partitions` explicitly, so the producer and `xlat64 lookup` agree on where an
// address lives without depending on a client's partitioner. kafkajs has no group-less consumer, so a
// partition range is read by a throw-away consumer group with auto-commit off.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import kafkajs, { type Admin, type Kafka, type KafkaMessage } from 'kafkajs';
import { parseIpv4 } from '../../../nat-engine/src/index.js';

const { Kafka: KafkaClient, logLevel } = kafkajs;

export interface KafkaConnection {
  /** host:port list. */
  brokers: readonly string[];
  clientId?: string;
  /** Milliseconds before a connection attempt fails (then the caller waits and retries). */
  connectionTimeoutMs?: number;
}

export function createKafka(connection: KafkaConnection): Kafka {
  assert.ok(connection.brokers.length > 0, 'at least one broker');
  return new KafkaClient({
    clientId: connection.clientId ?? 'xlat64',
    brokers: [...connection.brokers],
    connectionTimeout: connection.connectionTimeoutMs ?? 3000,
    // Retries are the outbox's job (it waits, re-checks the topic tail and resends); kafkajs' own
    // retries would only hide an outage for longer.
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    // kafkajs logs every refused connection at ERROR; the outbox reports its state in status instead.
    logLevel: logLevel.NOTHING,
  });
}

/** Partition of an external address: the address (uint32) modulo the partition count. */
export function partitionOf(address: string, partitions: number): number {
  return (parseIpv4(address) >>> 0) % partitions;
}

export interface TopicOptions {
  topic: string;
  partitions: number;
  /** Kafka `retention.ms` (-1 keeps records forever; compliance retention is the operator's policy). */
  retentionMs: number;
}

/** Creates the topic when missing; returns its partition count (the existing one when it exists). */
export async function ensureTopic(admin: Admin, options: TopicOptions): Promise<number> {
  const existing = await topicPartitions(admin, options.topic);
  if (existing > 0) return existing;
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic: options.topic,
        numPartitions: options.partitions,
        replicationFactor: -1,
        configEntries: [
          { name: 'retention.ms', value: String(options.retentionMs) },
          // Records carry event time, which may lie days back after an outage; never refuse them.
          { name: 'message.timestamp.type', value: 'CreateTime' },
          // One send carries up to a few thousand records; room for them in one partition's batch.
          { name: 'max.message.bytes', value: String(8 << 20) },
        ],
      },
    ],
  });
  return options.partitions;
}

export async function topicPartitions(admin: Admin, topic: string): Promise<number> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return 0;
  const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
  return metadata.topics[0].partitions.length;
}

/** High watermark (next offset) of each partition. */
export async function partitionEnds(admin: Admin, topic: string): Promise<number[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const ends: number[] = [];
  for (const entry of offsets) ends[entry.partition] = Number(entry.high);
  return ends;
}

/**
 * Calls `visit` for every message of `partition` with offset in [fromOffset, toOffset), in order,
 * until `visit` returns false. Resolves when done.
 */
export async function scanPartition(
  kafka: Kafka,
  topic: string,
  partitionCount: number,
  partition: number,
  fromOffset: number,
  toOffset: number,
  visit: (message: KafkaMessage, offset: number) => boolean,
): Promise<void> {
  if (fromOffset >= toOffset) return;
  const consumer = kafka.consumer({
    groupId: `xlat64-scan-${process.pid}-${randomBytes(6).toString('hex')}`,
    maxWaitTimeInMs: 50,
    maxBytes: 64 << 20,
    maxBytesPerPartition: 16 << 20,
    sessionTimeout: 30_000,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      let finished = false;
      /** Next offset to visit. A rejoin of the group (a rebalance right after the first join) can
       * drop a seek and restart from the beginning, so each join seeks again, and a batch from
       * behind that offset is skipped and sought past. */
      let next = fromOffset;
      const finish = (): void => {
        if (!finished) {
          finished = true;
          resolve();
        }
      };
      const seekNext = (): void => {
        if (!finished) consumer.seek({ topic, partition, offset: String(next) });
      };
      consumer.on(consumer.events.GROUP_JOIN, seekNext);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (finished || batch.partition !== partition) return;
            for (const message of batch.messages) {
              const offset = Number(message.offset);
              if (offset < next) {
                if (offset < next - 1) {
                  seekNext();
                  return;
                }
                continue;
              }
              next = offset + 1;
              if (offset >= toOffset || !visit(message, offset) || next >= toOffset) {
                finish();
                return;
              }
            }
          },
        })
        .catch(reject);
      seekNext();
      const others: number[] = [];
      for (let p = 0; p < partitionCount; p++) if (p !== partition) others.push(p);
      if (others.length > 0) consumer.pause([{ topic, partitions: others }]);
    });
  } finally {
    await consumer.disconnect();
  }
}
