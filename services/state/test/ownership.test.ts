// Shard ownership in NATS KV against a real nats-server: of two nodes taking one shard at once exactly
// one wins, every change of owner bumps the epoch, and a holder whose record was replaced is fenced.
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StateError } from '../src/errors.js';
import { connectNats } from '../src/nats-connection.js';
import { ShardOwnership } from '../src/ownership.js';

let ncA: NatsConnection;
let ncB: NatsConnection;

beforeAll(async () => {
  ncA = await connectNats({ url: inject('natsUrl'), name: 'node-a' });
  ncB = await connectNats({ url: inject('natsUrl'), name: 'node-b' });
});
afterAll(async () => {
  await ncA?.close();
  await ncB?.close();
});

function codeOf(error: unknown): string | undefined {
  return error instanceof StateError ? error.code : undefined;
}

describe('shard ownership (NATS KV compare-and-set)', () => {
  it('two contenders for a free shard: exactly one wins, the loser gets an ownership conflict', async () => {
    // Proves the create/update is a compare-and-set: were it a plain put, both would "win".
    const bucket = `own-${randomUUID().slice(0, 8)}`;
    const a = await ShardOwnership.open(ncA, 'node-a', bucket);
    const b = await ShardOwnership.open(ncB, 'node-b', bucket);
    for (const shard of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const results = await Promise.allSettled([a.acquire(shard, null, 1000), b.acquire(shard, null, 1000)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(codeOf((lost[0] as PromiseRejectedResult).reason)).toBe('XLAT64_ERR_OWNERSHIP_CONFLICT');
      const current = await a.find(shard);
      const winner = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof a.acquire>>>).value;
      expect(current?.record).toEqual(winner.record);
      expect(current?.record.epoch).toBe(1);
    }
  });

  it('a contended takeover of an owned shard: exactly one new owner, epoch + 1', async () => {
    // Proves the takeover CAS is on the revision both contenders read, not on "whoever writes last".
    const bucket = `own-${randomUUID().slice(0, 8)}`;
    const a = await ShardOwnership.open(ncA, 'node-a', bucket);
    const b = await ShardOwnership.open(ncB, 'node-b', bucket);
    const c = await ShardOwnership.open(ncA, 'node-c', bucket);
    await c.acquire(9, null, 1);
    for (let round = 0; round < 5; round++) {
      const seen = await a.find(9);
      const results = await Promise.allSettled([a.acquire(9, seen, 2), b.acquire(9, seen, 2)]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const current = await a.find(9);
      expect(current?.record.epoch).toBe(round + 2);
      expect(['node-a', 'node-b']).toContain(current?.record.owner);
      // A contender that acts on the record it saw before this round is refused too.
      await expect(c.acquire(9, seen, 3)).rejects.toMatchObject({ code: 'XLAT64_ERR_OWNERSHIP_CONFLICT' });
    }
  });

  it("an old owner's compare-and-set fails after a takeover: fenced, and the record stays the new owner's", async () => {
    // Proves a stale holder cannot write the record (transfer) and learns it lost the shard (confirm).
    const bucket = `own-${randomUUID().slice(0, 8)}`;
    const a = await ShardOwnership.open(ncA, 'node-a', bucket);
    const b = await ShardOwnership.open(ncB, 'node-b', bucket);
    const old = await a.acquire(4, null, 100);
    expect(old.record).toMatchObject({ owner: 'node-a', epoch: 1 });
    await expect(a.confirm(old)).resolves.toBeUndefined();
    const taken = await b.acquire(4, old, 200);
    expect(taken.record).toMatchObject({ owner: 'node-b', epoch: 2 });

    await expect(a.confirm(old)).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
    await expect(a.transfer(old, 'node-a', 300)).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
    await expect(a.transfer(old, '', 300)).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
    expect((await b.find(4))?.record).toMatchObject({ owner: 'node-b', epoch: 2 });

    // The rightful holder can hand over; the receiver gets the next epoch, and the giver is then stale.
    const handed = await b.transfer(taken, 'node-a', 400);
    expect(handed.record).toMatchObject({ owner: 'node-a', epoch: 3 });
    await expect(b.confirm(taken)).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
  });

  it('a released shard keeps its epoch, so the next owner still starts a newer one', async () => {
    // Proves epochs never go back: a release that reset the epoch would let old events pass as current.
    const bucket = `own-${randomUUID().slice(0, 8)}`;
    const a = await ShardOwnership.open(ncA, 'node-a', bucket);
    const lease = await a.acquire(0, null, 1);
    await a.acquire(0, lease, 2).then((l) => a.transfer(l, '', 3));
    expect((await a.find(0))?.record).toMatchObject({ owner: '', epoch: 2 });
    const next = await a.acquire(0, await a.find(0), 4);
    expect(next.record.epoch).toBe(3);
    await expect(a.confirm(lease)).rejects.toMatchObject({ code: 'XLAT64_ERR_FENCED' });
  });
});
