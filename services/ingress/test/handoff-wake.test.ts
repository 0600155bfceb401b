// The hand-off's wake-up: a batch that passes packets to other workers wakes each receiver exactly once
// after publishing (so a receiver waiting on its idle TUN queue is woken once per batch, not per packet),
// a batch that keeps all its packets wakes nobody, and what the woken receiver drains is what was passed.
import { describe, expect, it } from 'vitest';
import { createRingMemory } from '../../../libs/dataplane/src/index.js';
import { ipv6, parseIpv6, udp } from '../../../test/support/build.js';
import { type NatEngineConfigInput, validateConfig } from '../../nat-engine/src/index.js';
import {
  createBlockTableStorage,
  createHandoffMemory,
  createShardTable,
  ShardRouter,
  ShardTable,
  WorkerHandoff,
} from '../src/routing/index.js';

const VNET = 10;
const WORKERS = 3;
const config: NatEngineConfigInput = { pool: ['203.0.113.0/28'], blockSizePorts: 1008 };

function routerFor(tableData: ReturnType<typeof createShardTable>, blocks: SharedArrayBuffer) {
  return new ShardRouter(ShardTable.fromData(tableData.toData()), validateConfig(config), {
    blockStorage: blocks,
  });
}

/** `count` IPv6 packets (virtio header first) from subscribers whose /56 the table gives to `owner`. */
function packetsOf(router: ShardRouter, owner: number, count: number): Buffer[] {
  const out: Buffer[] = [];
  for (let n = 1; out.length < count; n++) {
    const address = `2001:db8:1:${(n << 8).toString(16)}::1`;
    const bytes = parseIpv6(address);
    const words = [0, 4, 8, 12].map((i) => bytes.readUInt32BE(i));
    if (router.ownerOf(router.subscribers.shardOfWords(words)) !== owner) continue;
    const packet = ipv6({
      src: address,
      dst: '64:ff9b::198.51.100.7',
      payload: udp({ srcPort: 5353, dstPort: 53, payload: Buffer.from('query') }),
    });
    out.push(Buffer.concat([Buffer.alloc(VNET), packet]));
  }
  return out;
}

function batchOf(packets: Buffer[]) {
  const buffer = Buffer.alloc(packets.reduce((n, p) => n + ((p.length + 7) & ~7), 0));
  const offsets = new Uint32Array(packets.length);
  const lengths = new Uint32Array(packets.length);
  let at = 0;
  packets.forEach((p, i) => {
    p.copy(buffer, at);
    offsets[i] = at;
    lengths[i] = p.length;
    at += (p.length + 7) & ~7;
  });
  return { buffer, offsets, lengths, count: packets.length };
}

describe('hand-off wake-up', () => {
  it('wakes each receiving worker once per batch, after the publish, and nobody for a batch it keeps', () => {
    const table = createShardTable({ memberCount: WORKERS });
    const memory = createHandoffMemory(WORKERS, () => createRingMemory(1 << 16));
    const blocks = createBlockTableStorage(validateConfig(config));
    const woken: { to: number; visible: boolean }[] = [];
    const receivers = [1, 2].map((w) => new WorkerHandoff(memory, w, routerFor(table, blocks), VNET));
    const reader = new WorkerHandoff(memory, 0, routerFor(table, blocks), VNET, (to) =>
      // What the receiver sees when woken: the packets must already be published.
      woken.push({ to, visible: receivers[to - 1].hasIncoming() }),
    );
    const router = routerFor(table, blocks);

    // 5 packets of worker 1, 3 of worker 2, 2 of worker 0 in one batch: two wakes, one per receiver.
    const mixed = batchOf([
      ...packetsOf(router, 1, 5),
      ...packetsOf(router, 2, 3),
      ...packetsOf(router, 0, 2),
    ]);
    const kept = reader.splitBatch(mixed.buffer, mixed.offsets, mixed.lengths, mixed.count, 1000);
    expect(kept).toBe(2);
    expect(woken).toEqual([
      { to: 1, visible: true },
      { to: 2, visible: true },
    ]);

    // A batch of worker 0's own packets passes nothing and wakes nobody.
    woken.length = 0;
    const own = batchOf(packetsOf(router, 0, 4));
    expect(reader.splitBatch(own.buffer, own.offsets, own.lengths, own.count, 1000)).toBe(4);
    expect(woken).toEqual([]);

    // The woken receivers drain exactly what was passed to them.
    const drained = receivers.map((r) => r.drain(() => {}, 1000));
    expect(drained).toEqual([5, 3]);
    expect(receivers.some((r) => r.hasIncoming())).toBe(false);
  });
});
