// Multi-worker hand-off without a TUN: two real worker threads, each with its own engine over the node's
// shared pool and the PLAT step, a shared block table and the rings between them. A packet read by the
// worker that does not own its subscriber's shard is translated by the owner (both directions, whichever
// worker reads the IPv4 reply), and fragments of one datagram read by different workers are translated by
// one owner with one mapping (IPv6 by source, IPv4 through the steering worker of the datagram), and a
// hairpin between subscribers of two workers takes both legs, each on the worker holding its mapping.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRingMemory } from '../../../libs/dataplane/src/index.js';
import {
  formatIpv4,
  formatIpv6,
  fragment4,
  fragment6,
  ipv4,
  ipv6,
  parseIpv6,
  udp,
} from '../../../test/support/build.js';
import { checkPacket } from '../../../test/support/wellformed.js';
import {
  createSharedPoolMemory,
  type NatEngineConfigInput,
  validateConfig,
} from '../../nat-engine/src/index.js';
import {
  createBlockTableStorage,
  createHandoffMemory,
  createShardTable,
  ShardRouter,
} from '../src/routing/index.js';

const bootstrap = fileURLToPath(new URL('./fixtures/worker-bootstrap.mjs', import.meta.url));
const entry = new URL('./fixtures/handoff-worker.ts', import.meta.url).href;
const config: NatEngineConfigInput = { pool: ['203.0.113.0/28'], blockSizePorts: 1008 };
const WORKERS = 2;

interface Wrote {
  worker: number;
  packet: Buffer;
}

let workers: Worker[] = [];
const wrote: Wrote[] = [];
const router = new ShardRouter(createShardTable({ memberCount: WORKERS }), validateConfig(config));
const pending = new Map<string, (value: unknown) => void>();

/** A worker's answer: `read-done` (kept) or `stats` (engine and hand-off figures). */
interface Reply {
  kept: number;
  mappings: number;
  sessions: number;
  handoff: { forwarded: number; fragmentsSteered: number; fragmentsUnrouted: number };
}

function send(worker: number, op: string, extra: Record<string, unknown> = {}): Promise<Reply> {
  return new Promise((resolve) => {
    pending.set(`${op === 'read' ? 'read-done' : op}/${worker}`, resolve as (value: unknown) => void);
    workers[worker].postMessage({ op, ...extra });
  });
}

const read = (worker: number, packets: Buffer[]) => send(worker, 'read', { packets });

async function writtenAfter(mark: number, count: number): Promise<Wrote[]> {
  const deadline = Date.now() + 10_000;
  while (wrote.length < mark + count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 30)); // nothing more is written
  return wrote.slice(mark);
}

/** A subscriber address whose /56 the table gives to `owner`. */
function subscriberOf(owner: number, skip = 0): string {
  let found = 0;
  for (let n = 1; ; n++) {
    const address = `2001:db8:0:${(n << 8).toString(16)}::1`;
    const bytes = parseIpv6(address);
    const words = [0, 4, 8, 12].map((i) => bytes.readUInt32BE(i));
    if (router.ownerOf(router.subscribers.shardOfWords(words)) === owner) {
      if (found++ === skip) return address;
    }
  }
}

beforeAll(async () => {
  const handoff = createHandoffMemory(WORKERS, () => createRingMemory(1 << 16));
  const pool = createSharedPoolMemory(validateConfig(config));
  const blocks = createBlockTableStorage(validateConfig(config));
  const table = createShardTable({ memberCount: WORKERS }).toData();
  workers = Array.from(
    { length: WORKERS },
    (_, worker) =>
      new Worker(bootstrap, { workerData: { entry, worker, handoff, pool, blocks, table, config } }),
  );
  await Promise.all(
    workers.map(
      (w, i) =>
        new Promise<void>((resolve, reject) => {
          w.on('error', reject);
          w.on('message', (m: { op: string; worker: number; packet?: Uint8Array }) => {
            if (m.op === 'wrote') wrote.push({ worker: m.worker, packet: Buffer.from(m.packet!) });
            else if (m.op === 'ready' && m.worker === i) resolve();
            else pending.get(`${m.op}/${m.worker}`)?.(m);
          });
        }),
    ),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.terminate()));
});

describe('hand-off between the workers of a node', () => {
  it("translates an IPv6 packet read by worker 0 on worker 1 (its subscriber's owner), and the IPv4 reply read by either worker on worker 1", async () => {
    // Proves IPv6 routing by subscriber and IPv4 routing by the block worker 1's engine leased.
    const subscriber = subscriberOf(1);
    let mark = wrote.length;
    const { kept } = await read(0, [
      ipv6({
        src: subscriber,
        dst: '64:ff9b::198.51.100.7',
        payload: udp({ srcPort: 5353, dstPort: 53, payload: Buffer.from('query') }),
      }),
    ]);
    expect(kept).toBe(0); // not worker 0's
    const [out] = await writtenAfter(mark, 1);
    expect(out.worker).toBe(1);
    expect(checkPacket(out.packet)).toEqual([]);
    expect(formatIpv4(out.packet, 16)).toBe('198.51.100.7');
    const pool4 = formatIpv4(out.packet, 12);
    const port4 = out.packet.readUInt16BE(20);
    expect(pool4.startsWith('203.0.113.')).toBe(true);
    for (const reader of [0, 1]) {
      mark = wrote.length;
      await read(reader, [
        ipv4({
          src: '198.51.100.7',
          dst: pool4,
          payload: udp({ srcPort: 53, dstPort: port4, payload: Buffer.from(`answer ${reader}`) }),
        }),
      ]);
      const replies = await writtenAfter(mark, 1);
      expect(replies).toHaveLength(1);
      expect(replies[0].worker).toBe(1);
      expect(formatIpv6(replies[0].packet, 24)).toBe(formatIpv6(parseIpv6(subscriber)));
      expect(replies[0].packet.readUInt16BE(42)).toBe(5353);
    }
    const stats = await send(0, 'stats');
    expect(stats.handoff.forwarded).toBe(2); // the IPv6 packet and the reply worker 0 read
    expect(stats.mappings).toBe(0); // worker 0's engine never saw the flow
  });

  it('translates the fragments of one IPv6 datagram read by different workers on the owner with one mapping', async () => {
    // Proves later fragments (no ports) follow their source's subscriber to the owner's fragment table.
    const subscriber = subscriberOf(1, 1);
    const big = ipv6({
      src: subscriber,
      dst: '64:ff9b::198.51.100.9',
      payload: udp({ srcPort: 7000, dstPort: 9, payload: Buffer.alloc(2000, 5) }),
    });
    const [first, second] = fragment6(big, [1232], 0x7777);
    const mark = wrote.length;
    await read(1, [first]);
    await writtenAfter(mark, 1);
    await read(0, [second]); // the later fragment, read by the worker that does not own it
    const out = await writtenAfter(mark, 2);
    expect(out.map((o) => o.worker)).toEqual([1, 1]);
    expect(new Set(out.map((o) => formatIpv4(o.packet, 12))).size).toBe(1);
    expect(new Set(out.map((o) => o.packet.readUInt16BE(4))).size).toBe(1); // one IPv4 identification
    const before = await send(1, 'stats');
    expect(before.mappings).toBe(2); // the first test's flow and this one
  });

  it("translates the fragments of one IPv4 datagram read by different workers on the owner of the block, through the datagram's steering worker", async () => {
    // Proves a later IPv4 fragment, which has no port to route by, reaches the same owner as its first.
    const subscriber = subscriberOf(1, 2);
    let mark = wrote.length;
    await read(0, [
      ipv6({
        src: subscriber,
        dst: '64:ff9b::198.51.100.11',
        payload: udp({ srcPort: 8000, dstPort: 4000 }),
      }),
    ]);
    const [out] = await writtenAfter(mark, 1);
    const pool4 = formatIpv4(out.packet, 12);
    const port4 = out.packet.readUInt16BE(20);
    const reply = ipv4({
      src: '198.51.100.11',
      dst: pool4,
      id: 0x4242,
      payload: udp({ srcPort: 4000, dstPort: port4, payload: Buffer.alloc(1800, 9) }),
    });
    const [first, second] = fragment4(reply, [1208]);
    mark = wrote.length;
    await read(1, [first]);
    await writtenAfter(mark, 1);
    await read(0, [second]); // no ports: worker 0 cannot route it by block
    const translated = await writtenAfter(mark, 2);
    expect(translated.map((o) => o.worker)).toEqual([1, 1]);
    for (const t of translated) expect(formatIpv6(t.packet, 24)).toBe(formatIpv6(parseIpv6(subscriber)));
    const stats = await Promise.all([send(0, 'stats'), send(1, 'stats')]);
    expect(stats[0].handoff.fragmentsUnrouted + stats[1].handoff.fragmentsUnrouted).toBe(0);
    expect(stats[0].handoff.fragmentsSteered + stats[1].handoff.fragmentsSteered).toBeGreaterThanOrEqual(1);
  });

  it('hairpins a subscriber of worker 0 to a subscriber of worker 1: out as IPv4 to the pool address, back in through the route, translated by worker 1', async () => {
    // Proves RFC 6146 sec. 3.8 across workers: worker 0's engine cannot run the IPv4 leg (the mapping is
    // worker 1's), so the packet leaves towards the pool address; the test plays the kernel's pool route
    // back into the TUN, and block routing takes it to worker 1, which delivers it to its subscriber.
    const receiver = subscriberOf(1, 3);
    const sender = subscriberOf(0, 0);
    let mark = wrote.length;
    await read(1, [
      ipv6({ src: receiver, dst: '64:ff9b::198.51.100.20', payload: udp({ srcPort: 9000, dstPort: 53 }) }),
    ]);
    const [first] = await writtenAfter(mark, 1);
    const pool4 = formatIpv4(first.packet, 12);
    const port4 = first.packet.readUInt16BE(20);
    mark = wrote.length;
    await read(0, [
      ipv6({
        src: sender,
        dst: `64:ff9b::${pool4}`,
        payload: udp({ srcPort: 9100, dstPort: port4, payload: Buffer.from('hairpin') }),
      }),
    ]);
    const [out] = await writtenAfter(mark, 1);
    expect(out.worker).toBe(0);
    expect(formatIpv4(out.packet, 16)).toBe(pool4); // IPv4 towards the receiver's pool address
    mark = wrote.length;
    await read(0, [out.packet]); // the pool route brings it back into the TUN
    const [delivered] = await writtenAfter(mark, 1);
    expect(delivered.worker).toBe(1);
    expect(formatIpv6(delivered.packet, 24)).toBe(formatIpv6(parseIpv6(receiver)));
    expect(delivered.packet.readUInt16BE(42)).toBe(9000);
    // The source is the sender's pool address embedded in the PREF64 (RFC 6146 sec. 3.8).
    expect(formatIpv6(delivered.packet, 8)).toBe(
      formatIpv6(parseIpv6(`64:ff9b::${formatIpv4(out.packet, 12)}`)),
    );
  });
});
