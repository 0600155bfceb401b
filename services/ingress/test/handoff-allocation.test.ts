// The hand-off allocates nothing per packet: splitting TUN batches between two workers' shards, copying
// the foreign packets into the ring, publishing, and draining them on the owner as TUN-like batches runs
// 1,000,000 small packets without a garbage collection (both workers' objects in one thread here; the
// ring's cross-thread behaviour is libs/dataplane ring.test.ts's and handoff.test.ts's).
import { describe, expect, it } from 'vitest';
import { createRingMemory } from '../../../libs/dataplane/src/index.js';
import { fewestCollections } from '../../../test/support/collections.js';
import { validateConfig } from '../../nat-engine/src/index.js';
import { createHandoffMemory, createShardTable, ShardRouter, WorkerHandoff } from '../src/routing/index.js';

const VNET = 10;
const BATCH = 64;

describe('hand-off allocation', () => {
  it('splits, forwards and drains 1,000,000 packets with no garbage collection', async () => {
    // Fails if a view, closure or boxed number is made per packet on either side.
    const config = validateConfig({ pool: ['203.0.113.0/24'] });
    const table = createShardTable({ memberCount: 2 });
    const memory = createHandoffMemory(2, () => createRingMemory(1 << 20));
    const reader = new WorkerHandoff(memory, 0, new ShardRouter(table, config), VNET);
    const owner = new WorkerHandoff(memory, 1, new ShardRouter(table, config), VNET);
    // A batch of 64 UDP/IPv6 packets from 64 subscribers (about half of them worker 1's).
    const packet = 40 + 8 + 32;
    const buffer = Buffer.alloc(BATCH * (VNET + packet));
    const template = new Uint32Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      const p = i * (VNET + packet) + VNET;
      template[i] = p - VNET;
      buffer[p] = 0x60;
      buffer[p + 5] = 40;
      buffer[p + 6] = 17;
      buffer.set([0x20, 0x01, 0x0d, 0xb8, 0, 0x10, i, 0], p + 8); // subscriber 2001:db8:10ii::/56
    }
    const offsets = new Uint32Array(BATCH);
    const lengths = new Uint32Array(BATCH);
    let local = 0;
    let received = 0;
    const handle = (_b: Uint8Array, _o: Uint32Array, _l: Uint32Array, count: number) => {
      received += count;
    };
    let rounds = 0;
    const run = () => {
      rounds++;
      for (let n = 0; n < 1_000_000; n += BATCH) {
        for (let i = 0; i < BATCH; i++) {
          offsets[i] = template[i];
          lengths[i] = VNET + packet;
        }
        local += reader.splitBatch(buffer, offsets, lengths, BATCH, 0);
        owner.drain(handle, 0);
      }
      return local + received;
    };
    const least = await fewestCollections(run);
    expect(received).toBeGreaterThan(0);
    expect(local).toBeGreaterThan(0);
    expect(local + received).toBe(rounds * 1_000_000); // each round 15,625 batches of 64, none lost
    expect(reader.counters.ringFull).toBe(0);
    expect(least).toBe(0);
  });
});
