// The ownership table in NATS KV against a real nats-server: two nodes publishing the same member set at
// once leave exactly one new version; racing different views leave a gap-free chain of versions; a node
// that reads a table giving its shard a newer epoch stops serving it.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { connectNats } from '../../state/src/index.js';
import { type OwnershipTable, OwnershipTableStore, ownerOf, ShardServing } from '../src/index.js';

let ncA: NatsConnection;
let ncB: NatsConnection;

beforeAll(async () => {
  ncA = await connectNats({ url: inject('natsUrl'), name: 'table-a' });
  ncB = await connectNats({ url: inject('natsUrl'), name: 'table-b' });
});
afterAll(async () => {
  await ncA?.close();
  await ncB?.close();
});

async function stores(shardCount = 64): Promise<[OwnershipTableStore, OwnershipTableStore]> {
  const bucket = `table-${randomUUID().slice(0, 8)}`;
  return [
    await OwnershipTableStore.open(ncA, { shardCount, bucket }),
    await OwnershipTableStore.open(ncB, { shardCount, bucket }),
  ];
}

describe('ownership table in NATS KV (compare-and-set)', () => {
  it('two nodes publishing the same members at once leave exactly one version', async () => {
    // Proves the write is a compare-and-set and the loser adopts the winner's table: with plain puts
    // both would write and the history would hold two versions of one member set.
    const [a, b] = await stores();
    for (const members of [
      ['n1', 'n2'],
      ['n1', 'n2', 'n3'],
      ['n2', 'n3'],
    ]) {
      const [ra, rb] = await Promise.all([a.publish(members), b.publish([...members].reverse())]);
      expect([ra.wrote, rb.wrote].filter(Boolean)).toHaveLength(1);
      expect(ra.table).toEqual(rb.table);
      expect(ra.revision).toBe(rb.revision);
    }
    const history = await a.history();
    expect(history.map((t) => t.version)).toEqual([1, 2, 3]);
    expect(history.map((t) => t.members)).toEqual([
      ['n1', 'n2'],
      ['n1', 'n2', 'n3'],
      ['n2', 'n3'],
    ]);
    expect(a.casConflicts + b.casConflicts).toBeGreaterThanOrEqual(1);
  });

  it('racing different member views leave a chain of versions, each derived from the one before', async () => {
    // Proves no version is lost or forked: every stored table's epochs follow from its predecessor's.
    const [a, b] = await stores();
    await a.publish(['n1', 'n2']);
    for (let round = 0; round < 5; round++) {
      await Promise.all([a.publish(['n1', 'n2', `x${round}`]), b.publish(['n1', `y${round}`])]);
    }
    const history = await a.history();
    const versions = history.map((t) => t.version);
    expect(versions).toEqual(versions.map((_, i) => versions[0] + i));
    for (let i = 1; i < history.length; i++) {
      const before = history[i - 1];
      const after = history[i];
      for (let s = 0; s < after.shardCount; s++) {
        const moved = ownerOf(before, s) !== ownerOf(after, s);
        expect(after.epoch[s]).toBe(before.epoch[s] + (moved ? 1 : 0));
      }
    }
  });

  it('a node routes from the table it reads: a newer table that gives its shard a newer epoch stops it', async () => {
    // Proves "stop serving" follows the stored table (read through a watch), not the node's own view.
    const [a, b] = await stores();
    const first = await a.publish(['node-a', 'node-b']);
    const serving = new ShardServing('node-a');
    serving.apply(first.table);
    const mine = serving.shards();
    expect(mine.length).toBeGreaterThan(0);

    const seen: OwnershipTable[] = [];
    const watch = await a.watch(({ table }) => {
      seen.push(table);
      serving.apply(table);
    });
    try {
      // node-b publishes a table without node-a (it thinks a died), then with it again (a came back).
      await b.publish(['node-b']);
      await b.publish(['node-a', 'node-b']);
      for (let i = 0; i < 100 && seen.at(-1)?.version !== 3; i++) await new Promise((r) => setTimeout(r, 50));
      expect(seen.at(-1)?.version).toBe(3);
      expect(serving.stopsForNewerEpoch + mine.length).toBeGreaterThan(0);
      for (const s of mine) expect(serving.epochOf(s)).toBe(first.table.epoch[s] + 2);
    } finally {
      watch.stop();
    }
  });

  it('refuses a shard count that is not a power of two, and a stored table of another shard count', async () => {
    // Proves bad configuration is refused naming the field, and that nodes disagreeing on the count never route.
    await expect(OwnershipTableStore.open(ncA, { shardCount: 1000 })).rejects.toMatchObject({
      code: 'XLAT64_ERR_CLUSTER_CONFIG',
      field: 'shards',
    });
    const bucket = `table-${randomUUID().slice(0, 8)}`;
    await (await OwnershipTableStore.open(ncA, { shardCount: 64, bucket })).publish(['n1']);
    const other = await OwnershipTableStore.open(ncB, { shardCount: 128, bucket });
    await expect(other.read()).rejects.toMatchObject({ code: 'XLAT64_ERR_TABLE_UNREADABLE' });
  });
});
