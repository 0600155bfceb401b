// The fabric side of a reply to a pool block this node has not learned yet (UNLEASED_BLOCK, see
// unleased-block.test.ts for the routing side): PlatFabric sends one copy to each table shard another node
// owns, each sealed for its shard and epoch, and the receivers accept them. A scan of the pool's free ports
// is bounded: past UNLEASED_FORWARD_PER_SECOND packets in a burst, the rest are counted, not sent. Real
// fabric sockets on loopback.
import { afterAll, describe, expect, it } from 'vitest';
import { createRingMemory } from '../../../libs/dataplane/src/index.js';
import { ipv4, udp } from '../../../test/support/build.js';
import {
  FabricCodec,
  FabricEndpoint,
  type FabricKeyConfig,
  type FabricPeer,
  type OwnershipTable,
} from '../../cluster/src/index.js';
import { validateConfig } from '../../nat-engine/src/index.js';
import { fabricGaugeNames, PlatFabric, UNLEASED_FORWARD_PER_SECOND } from '../src/cluster/plat-fabric.js';
import {
  createHandoffMemory,
  createShardTable,
  ShardRouter,
  UNLEASED_BLOCK,
  WorkerHandoff,
} from '../src/routing/index.js';

const KEY: FabricKeyConfig = { id: 1, secretHex: '5a'.repeat(32) };
const WORKERS = 2; // table shards 0 and 1 on every node
// Table shard 0 is node-b's, 1 is node-c's; node-a (the sender) owns none.
const table: OwnershipTable = {
  version: 3,
  shardCount: WORKERS,
  members: ['node-a', 'node-b', 'node-c'],
  memberCount: 3,
  owner: Int32Array.of(1, 2),
  standby: Int32Array.of(0, 0),
  epoch: Uint32Array.of(4, 7),
};

const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops) await stop();
});

interface Got {
  shard: number;
  epoch: number;
}

async function receiver(nodeId: string, got: Got[]): Promise<FabricEndpoint> {
  const endpoint = await FabricEndpoint.start({
    codec: new FabricCodec({ nodeId, keys: [KEY], mac: 'blake2s' }),
    host: '127.0.0.1',
    port: 0,
    onPacket: (_frame, _offset, _length, fields) => got.push({ shard: fields.shard, epoch: fields.epoch }),
  });
  stops.push(() => endpoint.stop());
  return endpoint;
}

async function setup(unleasedPerSecond?: number) {
  const gotB: Got[] = [];
  const gotC: Got[] = [];
  const b = await receiver('node-b', gotB);
  const c = await receiver('node-c', gotC);
  const config = validateConfig({ pool: ['203.0.113.0/30'] });
  const router = new ShardRouter(createShardTable({ memberCount: WORKERS + 1 }), config);
  const handoff = new WorkerHandoff(
    createHandoffMemory(WORKERS, () => createRingMemory(1 << 16)),
    0,
    router,
    0,
  );
  const fabric = await PlatFabric.start(
    {
      nodeId: 'node-a',
      detectionMs: 1000,
      fabric: {
        host: '127.0.0.1',
        port: 0,
        keys: [KEY],
        currentKeyId: 1,
        mac: 'blake2s',
        vni: undefined,
        receiveBufferBytes: undefined,
      },
    },
    WORKERS,
    0,
    handoff,
    () => {},
    { unleasedPerSecond },
  );
  stops.push(() => fabric.stop());
  const peers: FabricPeer[] = [
    { nodeId: 'node-a', host: '127.0.0.1', port: fabric.endpoint.port },
    { nodeId: 'node-b', host: '127.0.0.1', port: b.port },
    { nodeId: 'node-c', host: '127.0.0.1', port: c.port },
  ];
  fabric.setView({ table, peers }, 'node-a');
  for (const endpoint of [b, c]) {
    endpoint.codec.setMembers(peers.filter((p) => p.nodeId !== endpoint.codec.nodeId));
    endpoint.codec.setShardView(table);
  }
  const counters = () => {
    const out = new Float64Array(fabricGaugeNames.length);
    fabric.writeCounters(out, 0);
    return Object.fromEntries(fabricGaugeNames.map((name, i) => [name, out[i]]));
  };
  return { fabric, gotB, gotC, counters };
}

const reply = ipv4({
  src: '198.51.100.2',
  dst: '203.0.113.2',
  payload: udp({ srcPort: 9000, dstPort: 2100 }),
});

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
}

describe('PlatFabric: a reply to a block not learned yet', () => {
  it("goes to each table shard another node owns, sealed with that shard's epoch, and is accepted", async () => {
    const { fabric, gotB, gotC, counters } = await setup();
    fabric.forward(reply, 0, reply.length, UNLEASED_BLOCK);
    fabric.flush();
    await until(() => gotB.length + gotC.length === 2);
    expect(gotB).toEqual([{ shard: 0, epoch: 4 }]);
    expect(gotC).toEqual([{ shard: 1, epoch: 7 }]);
    expect(counters()['fabric.send.unleased']).toBe(2);
    expect(counters()['fabric.send.unleasedLimited']).toBe(0);
  });

  it('a burst past the rate (one second of it) is cut: the rest are counted in fabric.send.unleasedLimited', async () => {
    // The default (UNLEASED_FORWARD_PER_SECOND) as the production bound; 200/s here, so the burst is
    // sent in far less than a second whatever the machine's load.
    expect(UNLEASED_FORWARD_PER_SECOND).toBe(20_000);
    const rate = 200;
    const { fabric, counters } = await setup(rate);
    const burst = 2000;
    const started = performance.now();
    for (let i = 0; i < burst; i++) {
      fabric.forward(reply, 0, reply.length, UNLEASED_BLOCK);
      if (i % 256 === 255) fabric.flush();
    }
    fabric.flush();
    const seconds = (performance.now() - started) / 1000;
    const c = counters();
    // The bucket holds one second's worth and refills at the same rate over the burst's own duration.
    const allowed = rate * (1 + seconds);
    expect(c['fabric.send.unleasedLimited']).toBeGreaterThan(0);
    expect(c['fabric.send.unleased'] / 2 + c['fabric.send.unleasedLimited']).toBe(burst);
    expect(c['fabric.send.unleased'] / 2).toBeLessThanOrEqual(Math.ceil(allowed));
    expect(c['fabric.send.unleased'] / 2).toBeGreaterThanOrEqual(rate);
  });
});
