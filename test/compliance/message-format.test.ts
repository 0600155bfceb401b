// The compliance topic's message formats without a broker: packs (format 2) hold one partition's
// records in order, cut at the record and time-span limits, keyed only when one address fills them;
// format 1 is one record per message; decodeMessage reads both and refuses what is neither.
import { describe, expect, it } from 'vitest';
import {
  COMPLIANCE_PACK_VERSION,
  type ComplianceRecord,
  decodeMessage,
  encodeMessages,
  PACK_SPAN_MS_MAX,
  partitionOf,
} from '../../services/state/src/index.js';

function record(id: number, address: string, atMs: number): ComplianceRecord {
  return {
    v: 1,
    id: `n/0:1:${id}:0`,
    kind: 'block-lease',
    leaseId: `n/0:1:${id}:0`,
    subscriber: '2001:db8:1::/56',
    clatPrefix64: null,
    address,
    protocol: 'udp',
    portFirst: 1024,
    portLast: 1535,
    startMs: atMs,
    endMs: null,
    atMs,
    shard: 0,
    epoch: 1,
    sequence: id,
    index: 0,
  };
}

describe('compliance message formats', () => {
  it('packs a partition’s records in order, cut at recordsPerPackMax and at the time span', () => {
    // Proves the packing rules lookup relies on: same partition only, order kept, at most N records
    // and PACK_SPAN_MS_MAX of record time per message, timestamp = oldest record, key only when one address.
    const t = 1_700_000_000_000;
    // 198.51.100.0 and .4 share partition 0 of 4; .1 is in partition 1.
    const records = [
      record(1, '198.51.100.0', t),
      record(2, '198.51.100.1', t + 1),
      record(3, '198.51.100.4', t - 5),
      record(4, '198.51.100.0', t + 2),
      record(5, '198.51.100.0', t + 3), // fourth of partition 0: a new pack (limit 3)
      record(6, '198.51.100.1', t + PACK_SPAN_MS_MAX + 2), // past the span of partition 1's pack
    ];
    const counts: number[] = [];
    const messages = encodeMessages(records, 4, 'packed', 3, counts);
    expect(counts).toEqual([2, 2, 0, 0]);
    const unpacked = messages.map((m) => ({
      partition: m.partition,
      key: m.key,
      timestamp: Number(m.timestamp),
      ids: (decodeMessage(m.value) ?? []).map((r) => r.sequence),
    }));
    expect(unpacked).toEqual([
      { partition: 0, key: null, timestamp: t - 5, ids: [1, 3, 4] },
      { partition: 1, key: '198.51.100.1', timestamp: t + 1, ids: [2] },
      { partition: 0, key: '198.51.100.0', timestamp: t + 3, ids: [5] },
      { partition: 1, key: '198.51.100.1', timestamp: t + PACK_SPAN_MS_MAX + 2, ids: [6] },
    ]);
    for (const m of messages) {
      expect(JSON.parse(m.value).v).toBe(COMPLIANCE_PACK_VERSION);
      for (const r of decodeMessage(m.value) ?? []) expect(partitionOf(r.address, 4)).toBe(m.partition);
    }
    expect(decodeMessage(messages[0].value)).toEqual([records[0], records[2], records[3]]);
  });

  it('format 1 writes one record per message keyed by its address, and both formats decode', () => {
    // Proves the single-record format (what earlier builds wrote) still round-trips and carries its id header.
    const t = 1_700_000_000_000;
    const records = [record(1, '198.51.100.0', t), record(2, '198.51.100.1', t + 10)];
    const counts: number[] = [];
    const messages = encodeMessages(records, 4, 'single', 256, counts);
    expect(counts).toEqual([1, 1, 0, 0]);
    expect(messages.map((m) => [m.key, m.headers.id, Number(m.timestamp)])).toEqual([
      ['198.51.100.0', records[0].id, t],
      ['198.51.100.1', records[1].id, t + 10],
    ]);
    expect(messages.map((m) => decodeMessage(m.value))).toEqual([[records[0]], [records[1]]]);
  });

  it('refuses what is not a compliance message and leaves non-records out of a pack', () => {
    // Proves readers never throw on a foreign or damaged message (lookup skips it).
    const good = record(1, '198.51.100.0', 1);
    expect(decodeMessage('not json')).toBeNull();
    expect(decodeMessage('null')).toBeNull();
    expect(decodeMessage(JSON.stringify({ v: 3, records: [good] }))).toBeNull();
    expect(decodeMessage(JSON.stringify({ v: 2, records: 'x' }))).toBeNull();
    expect(decodeMessage(JSON.stringify({ ...good, id: 7 }))).toBeNull();
    expect(decodeMessage(JSON.stringify({ v: 2, records: [good, { v: 1 }, 5, null] }))).toEqual([good]);
  });
});
