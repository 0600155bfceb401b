// RFC 7422 deterministic mode in the compliance log: a subscriber inside the deterministic prefix gets
// its address and block by formula (nat-engine pool4/rfc7422.ts), so no allocation record is needed
// (§1: "no need to log each allocation"). What must be logged is the configuration history: one
// `config` record per configuration that took effect, in a one-partition topic `<topic>-config`.
// Lookup inverts the formula under every configuration in effect during the window (RFC 7422 §2).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import {
  deterministicMapping,
  type NatEngineConfig,
  type NatEngineConfigInput,
  PROTOCOL_SLOTS,
  parseIpv4,
  validateConfig,
} from '../../../nat-engine/src/index.js';
import type { LookupHolder, LookupQuery } from './holders.js';
import { scanPartition, topicPartitions } from './kafka.js';
import { formatPrefix } from './records.js';

export interface ConfigRecord {
  v: 1;
  kind: 'config';
  /** `cfg:<fromMs>:<fingerprint>`. */
  id: string;
  /** From when this configuration was in effect (UTC ms). */
  fromMs: number;
  /** sha256 of the configuration's JSON (first 16 hex digits). */
  fingerprint: string;
  /** The NAT configuration as the operator gave it (the engine's input). */
  nat: NatEngineConfigInput;
}

export function configTopic(topic: string): string {
  return `${topic}-config`;
}

export function configFingerprint(nat: NatEngineConfigInput): string {
  return createHash('sha256').update(JSON.stringify(nat)).digest('hex').slice(0, 16);
}

/** Every configuration record, in the order written. */
export async function readConfigHistory(kafka: Kafka, admin: Admin, topic: string): Promise<ConfigRecord[]> {
  const name = configTopic(topic);
  if ((await topicPartitions(admin, name)) === 0) return [];
  const offsets = await admin.fetchTopicOffsets(name);
  const out: ConfigRecord[] = [];
  await scanPartition(kafka, name, 1, 0, Number(offsets[0].low), Number(offsets[0].high), (message) => {
    const value = JSON.parse(message.value?.toString() ?? 'null') as ConfigRecord | null;
    if (value !== null && value.kind === 'config') out.push(value);
    return true;
  });
  return out;
}

/**
 * Writes a config record when the latest logged configuration differs (by fingerprint), creating
 * the config topic when missing. Returns the record in effect.
 */
export async function recordConfiguration(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  nat: NatEngineConfigInput,
  fromMs: number,
): Promise<ConfigRecord> {
  validateConfig(nat); // refuses a bad configuration before it enters the history
  const name = configTopic(topic);
  if ((await topicPartitions(admin, name)) === 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: name, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '-1' }] }],
    });
  }
  const history = await readConfigHistory(kafka, admin, topic);
  const fingerprint = configFingerprint(nat);
  const latest = history.at(-1);
  if (latest !== undefined && latest.fingerprint === fingerprint) return latest;
  const record: ConfigRecord = {
    v: 1,
    kind: 'config',
    id: `cfg:${fromMs}:${fingerprint}`,
    fromMs,
    fingerprint,
    nat,
  };
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({
      topic: name,
      acks: -1,
      messages: [
        {
          key: 'config',
          value: JSON.stringify(record),
          timestamp: String(fromMs),
          headers: { id: record.id },
        },
      ],
    });
  } finally {
    await producer.disconnect();
  }
  return record;
}

/** Holders by formula under each configuration in effect during [at − skew, at + skew]. */
export function deterministicHolders(history: readonly ConfigRecord[], query: LookupQuery): LookupHolder[] {
  const lowMs = query.atMs - query.skewMs;
  const highMs = query.atMs + query.skewMs;
  const sorted = [...history].sort((a, b) => a.fromMs - b.fromMs);
  const out: LookupHolder[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const record = sorted[i];
    const untilMs = i + 1 < sorted.length ? sorted[i + 1].fromMs : Number.POSITIVE_INFINITY;
    if (record.fromMs > highMs || untilMs <= lowMs) continue;
    const config = validateConfig(record.nat);
    if (config.deterministic === null) continue;
    const slots = query.protocol === undefined ? [0, 1, 2] : [PROTOCOL_SLOTS.indexOf(query.protocol)];
    for (const slot of slots) {
      const prefix = subscriberOf(config, parseIpv4(query.address), query.port, slot);
      if (prefix === null) continue;
      const mapping = deterministicMapping(config, prefix, slot);
      assert.ok(mapping !== null, 'the inverse of the formula maps back to the same block');
      out.push({
        level: 'deterministic',
        leaseId: record.id,
        subscriber: formatPrefix(prefix, config.subscriberPrefixLength),
        tenant: null,
        clatPrefix64: null,
        address: query.address,
        protocol: PROTOCOL_SLOTS[slot],
        portFirst: mapping.portFirst,
        portLast: mapping.portLast,
        startMs: record.fromMs,
        endMs: Number.isFinite(untilMs) ? untilMs : null,
        heldThroughMs: record.fromMs,
        shard: -1,
        epoch: -1,
        evidence: [{ id: record.id, kind: 'config', atMs: record.fromMs }],
      });
    }
  }
  return out;
}

/** The subscriber prefix the formula gives (address, port) under `config`, or null when none does. */
export function subscriberOf(
  config: NatEngineConfig,
  address: number,
  port: number,
  slot: number,
): Uint32Array | null {
  const det = config.deterministic;
  if (det === null || address < 0) return null;
  let addressIndex = -1;
  for (let i = 0; i < config.rangeFirst.length; i++) {
    if (address >= config.rangeFirst[i] && address <= config.rangeLast[i]) {
      addressIndex = config.rangeBase[i] + (address - config.rangeFirst[i]);
      break;
    }
  }
  const ports = config.protocols[slot];
  if (addressIndex < 0 || port < ports.portFirst || port > ports.portLast) return null;
  const k = Math.min(...config.protocols.map((p) => p.blocksPerAddress));
  const block = Math.floor((port - ports.portFirst) / config.blockSizePorts);
  if (block >= k) return null;
  let n = addressIndex * k + block;
  const bits = config.subscriberPrefixLength - det.prefixLength;
  if (bits < 53 && n >= 2 ** bits) return null;
  const prefix = Uint32Array.from(det.prefix);
  for (let bit = config.subscriberPrefixLength - 1; bit >= det.prefixLength; bit--) {
    if (n % 2 === 1) prefix[bit >>> 5] |= 1 << (31 - (bit & 31));
    n = Math.floor(n / 2);
  }
  return prefix;
}
