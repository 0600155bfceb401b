// IPv4 return traffic that reaches a cluster node before the node has learned its pool block. Another node
// leased the block moments ago; this node learns it when its standby folds the lease (up to a flush
// interval later). Found in the cluster lab: 12 of 16 new subscribers lost their first UDP reply, because
// the router sent it to a node that did not know the block yet. Such a packet now goes to the fabric
// (UNLEASED_BLOCK), which copies it to every table shard another node owns. Packets outside the pool's
// blocks stay with the local step, as before. So does everything on a single node, and everything in a
// cluster where no other node owns a shard.
import { describe, expect, it } from 'vitest';
import { createRingMemory } from '../../../libs/dataplane/src/index.js';
import { ipv4, ipv6, udp } from '../../../test/support/build.js';
import { NatEventType, validateConfig } from '../../nat-engine/src/index.js';
import {
  createHandoffMemory,
  createShardTable,
  type RemoteSink,
  ShardRouter,
  UNLEASED_BLOCK,
  WorkerHandoff,
} from '../src/routing/index.js';

const config = validateConfig({ pool: ['203.0.113.0/30'], blockSizePorts: 1008 });

/** A one-worker cluster node: members 0 (this worker) and 1 ("another node"), every shard owned by `owner`. */
function node(owner: 0 | 1, forwardUnleasedBlocks: boolean) {
  const table = createShardTable({ memberCount: 2 });
  table.owner.fill(owner);
  const router = new ShardRouter(table, config);
  const memory = createHandoffMemory(1, () => createRingMemory(1 << 16));
  const handoff = new WorkerHandoff(memory, 0, router, 0);
  const sent: number[] = [];
  const sink: RemoteSink = { forward: (_b, _s, _l, shard) => sent.push(shard), flush: () => {} };
  handoff.setRemote(sink);
  handoff.forwardUnleasedBlocks = forwardUnleasedBlocks;
  /** Splits a batch of one packet: true when it stayed for the local step. */
  const keptLocally = (packet: Buffer) =>
    handoff.splitBatch(packet, Uint32Array.of(0), Uint32Array.of(packet.length), 1, 0) === 1;
  return { router, handoff, sent, keptLocally };
}

const reply = (dst: string, dstPort: number) =>
  ipv4({ src: '198.51.100.2', dst, payload: udp({ srcPort: 9000, dstPort }) });

describe('cluster ingress: IPv4 to a pool block this node has not learned yet', () => {
  it('goes to the fabric as UNLEASED_BLOCK when another node owns shards', () => {
    const n = node(1, true);
    expect(n.keptLocally(reply('203.0.113.2', 2100))).toBe(false);
    expect(n.sent).toEqual([UNLEASED_BLOCK]);
    expect(n.handoff.remoteForwarded).toBe(1);
  });

  it('a learned block goes to its own shard, and packets outside the blocks stay local', () => {
    const n = node(1, true);
    const subscriber: [number, number, number, number] = [0x20010db8, 0x00010200, 0, 0];
    n.router.applyEvent({
      version: 1,
      epoch: 1,
      shard: 0,
      timeMs: 0,
      type: NatEventType.BlockLeased,
      protocol: 1,
      address: 0xcb007102, // 203.0.113.2
      firstPort: 1024 + 1008,
      subscriber,
    });
    expect(n.keptLocally(reply('203.0.113.2', 2100))).toBe(false);
    expect(n.sent).toEqual([n.router.subscribers.shardOfWords(Uint32Array.from(subscriber))]);
    n.sent.length = 0;
    // Not a pool address; a pool address below the dynamic ports; an IPv6 packet: none is UNLEASED_BLOCK.
    expect(n.keptLocally(reply('192.0.2.77', 2100))).toBe(true);
    expect(n.keptLocally(reply('203.0.113.1', 80))).toBe(true);
    expect(n.sent).toEqual([]);
  });

  it('stays with the local step on a single node, and where this node owns every shard', () => {
    const single = node(1, false);
    expect(single.keptLocally(reply('203.0.113.2', 2100))).toBe(true);
    expect(single.sent).toEqual([]);
    const ownsAll = node(0, true);
    expect(ownsAll.keptLocally(reply('203.0.113.2', 2100))).toBe(true);
    expect(ownsAll.sent).toEqual([]);
  });

  it('IPv6 from subscribers is routed by subscriber as before', () => {
    const n = node(1, true);
    const packet = ipv6({ src: '2001:db8:1:200::1', dst: '64:ff9b::c633:6402', payload: udp({}) });
    expect(n.keptLocally(packet)).toBe(false);
    expect(n.sent).toHaveLength(1);
    expect(n.sent[0]).toBeGreaterThanOrEqual(0);
  });
});
