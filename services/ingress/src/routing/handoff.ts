// Hand-off between the workers of one node: each worker reads its own TUN queue, asks the router which
// worker owns each packet's shard, keeps its own and passes the others to their owners through the
// shared-memory rings (one per worker pair, published once per batch). IPv4 fragments without ports are
// steered first to one worker per datagram (a hash of source, destination, identification, protocol),
// which learns the owner from the first fragment and sends every fragment of the datagram there, so
// fragments read by different workers are translated by one owner with one mapping. After a publish the
// receiving worker is woken (`wake`: the TUN queue's wake eventfd, written only while it waits), so an
// idle worker takes passed packets at once instead of at its read's poll timeout.

import assert from 'node:assert/strict';
import {
  Doorbell,
  RingBatch,
  RingConsumer,
  type RingMemory,
  RingProducer,
} from '../../../../libs/dataplane/src/index.js';
import type { ShardRouter } from './router.js';

/** Ring tag: the packet is for the receiving worker's own shards. */
export const HANDOFF_OWNED = 0;
/** Ring tag: an IPv4 fragment steered to the receiving worker to be routed by its datagram's first fragment. */
export const HANDOFF_FRAGMENT = 1;
/** Ring tag: a packet of a shard another node owns, passed to the fabric worker (worker 0) to be forwarded. */
export const HANDOFF_REMOTE = 2;
/**
 * The fabric's end in the fabric worker (cluster/plat-fabric.ts): takes a packet (virtio header included,
 * `buffer[start, start + length)`) of virtual shard `shard` for another node, and sends what it took at flush().
 */
export interface RemoteSink {
  /** A packet of virtual shard `shard` for its owner; UNLEASED_BLOCK: for every other node's table shard. */
  forward(buffer: Uint8Array, start: number, length: number, shard: number): void;
  flush(): void;
}
/**
 * `lastShard` of an IPv4 packet sent to a pool block no shard of this node's table holds, in a cluster where
 * other nodes own shards: the block may be one another node leased moments ago (this node learns it when
 * that node's standby folds the lease, up to a flush interval later), so the fabric passes it to each
 * other node's table shard (PlatFabric, rate-limited); the one that holds the block translates it.
 */
export const UNLEASED_BLOCK = -2;
/** `ownerOf` for such a packet: a remote owner (>= workers), resolved by the fabric from UNLEASED_BLOCK. */
const OWNER_UNLEASED = 0x7fffffff;

/** Datagrams whose owner the steering worker remembers (direct-mapped, like the PLAT's fragment table). */
export const FRAGMENT_ROUTES = 4096;
/** A remembered datagram route is used for this long after its first fragment (RFC 791 reassembly scale). */
export const FRAGMENT_ROUTE_LIFETIME_MS = 2000;
/** Packets one drain takes from one ring. */
const DRAIN_PACKETS_MAX = 256;

/** The shared memory of a node's hand-off: rings[from][to] (null on the diagonal) and one doorbell per worker. */
export interface HandoffMemory {
  readonly workers: number;
  readonly rings: (RingMemory | null)[][];
  readonly doorbells: SharedArrayBuffer[];
}

export function createHandoffMemory(workers: number, createRing: () => RingMemory): HandoffMemory {
  assert.ok(Number.isInteger(workers) && workers >= 1, 'a node has at least one worker');
  const rings: (RingMemory | null)[][] = [];
  for (let from = 0; from < workers; from++) {
    rings.push([]);
    for (let to = 0; to < workers; to++) rings[from].push(from === to ? null : createRing());
  }
  const doorbells = Array.from({ length: workers }, () => new Doorbell().buffer);
  return { workers, rings, doorbells };
}

/** Counters of one worker's hand-off (plain numbers; the role publishes them). */
export class HandoffCounters {
  /** Packets passed to another worker / refused because that ring was full. */
  forwarded = 0;
  ringFull = 0;
  /** Packets received from other workers and handed to the local step. */
  received = 0;
  /** IPv4 fragments steered to their datagram's worker; later fragments with no remembered first fragment. */
  fragmentsSteered = 0;
  fragmentsUnrouted = 0;
}

export class WorkerHandoff {
  readonly worker: number;
  readonly workers: number;
  readonly counters = new HandoffCounters();
  private readonly router: ShardRouter;
  private readonly producers: (RingProducer | null)[];
  private readonly consumers: (RingConsumer | null)[];
  private readonly bell: Doorbell;
  private readonly batch = new RingBatch(DRAIN_PACKETS_MAX);
  // Fragment routes of datagrams steered here: key words and owner, stamped.
  private readonly routeKey = new Int32Array(FRAGMENT_ROUTES * 4);
  private readonly routeOwner = new Int32Array(FRAGMENT_ROUTES);
  private readonly routeStampMs = new Float64Array(FRAGMENT_ROUTES).fill(-Infinity);
  /** Set by `ownerOf`: the packet is an IPv4 fragment, steered to its datagram's worker. */
  private steer = false;
  private readonly vnetHdrBytes: number;
  /** The rings' bytes as Buffers (views made once), so drained batches look like TUN batches. */
  private readonly ringBuffers: (Buffer | null)[];
  private readonly wake: ((worker: number) => void) | null;
  /** The virtual shard of the packet `ownerOf` last routed (NO_SHARD when none). */
  private lastShard = -1;
  /** Worker 0 of a cluster node: where packets of other nodes' shards go (null: none, or another worker). */
  private remote: RemoteSink | null = null;
  /** Packets of other nodes' shards passed to the fabric (here or through worker 0's ring). */
  remoteForwarded = 0;
  /**
   * Cluster nodes: IPv4 to a pool block this node's table does not hold goes to the fabric (UNLEASED_BLOCK)
   * while another node owns a shard. Off on a single node, where such a packet is the local step's to drop.
   */
  forwardUnleasedBlocks = false;
  private remoteOwnersVersion = -1;
  private remoteOwners = false;

  /**
   * `wake(to)`: called once per publish that carried packets to worker `to` (at most once per batch
   * and receiver), e.g. libs/tun's `context.wakeQueue`; absent, a receiver notices packets when it polls.
   */
  constructor(
    memory: HandoffMemory,
    worker: number,
    router: ShardRouter,
    vnetHdrBytes: number,
    wake?: (worker: number) => void,
  ) {
    assert.ok(worker >= 0 && worker < memory.workers, 'the worker is one of the node');
    assert.ok(
      router.table.memberCount === memory.workers || router.table.memberCount === memory.workers + 1,
      "the shard table's members are the node's workers (and, in a cluster, 'another node')",
    );
    this.worker = worker;
    this.workers = memory.workers;
    this.router = router;
    this.bell = new Doorbell(memory.doorbells[worker]);
    this.producers = memory.rings[worker].map((ring, to) =>
      ring === null ? null : new RingProducer(ring, new Doorbell(memory.doorbells[to])),
    );
    this.consumers = memory.rings.map((row) =>
      row[worker] === null ? null : new RingConsumer(row[worker]!),
    );
    this.ringBuffers = this.consumers.map((c) =>
      c === null ? null : Buffer.from(c.data.buffer, c.data.byteOffset, c.data.length),
    );
    this.vnetHdrBytes = vnetHdrBytes;
    this.wake = wake ?? null;
  }

  /**
   * The worker that must translate the IP packet at `buffer[ip, ip + length)`, or -1 when no shard holds
   * it (the local step translates or drops it with its own reason: not in the pool, malformed, no block).
   * IPv6: the subscriber of the source. IPv4: the shard of the (pool address, port) it is sent to; an
   * ICMP error by the packet it quotes; a fragment: the worker steering its datagram (`isSteered` after).
   */
  ownerOf(buffer: Uint8Array, ip: number, length: number): number {
    this.steer = false;
    this.lastShard = -1;
    if (length < 20) return -1;
    const version = buffer[ip] >>> 4;
    if (version === 6) {
      if (length < 40) return -1;
      return this.route(this.router.shardOf6(buffer, ip));
    }
    if (version !== 4) return -1;
    const headerBytes = (buffer[ip] & 15) << 2;
    if (headerBytes < 20 || length < headerBytes) return -1;
    const fragment = ((buffer[ip + 6] & 0x3f) << 8) | buffer[ip + 7]; // MF and offset
    if (fragment !== 0 && this.workers > 1) {
      // Steered by datagram identity: every fragment of it meets at one worker, whoever read it.
      this.steer = true;
      return (Math.imul(this.fragmentSlotOf(buffer, ip), 0x9e3779b1) >>> 0) % this.workers;
    }
    return this.ownerOfIpv4(buffer, ip, headerBytes, length);
  }

  /** Worker 0 of a cluster node takes the packets of other nodes' shards to the fabric through `sink`. */
  setRemote(sink: RemoteSink | null): void {
    assert.ok(sink === null || this.worker === 0, 'the fabric worker is worker 0');
    this.remote = sink;
  }

  /** Routes a virtual shard to its owner, remembering the shard (NO_SHARD -> -1). */
  private route(shard: number): number {
    this.lastShard = shard;
    return this.router.ownerOf(shard);
  }

  /** Routes an IPv4 packet by its pool block (`route`); an unleased block in a cluster: UNLEASED_BLOCK. */
  private route4(slot: number, address: number, port: number): number {
    const router = this.router;
    const owner = this.route(router.shardOf4(slot, address, port));
    if (owner !== -1 || !this.forwardUnleasedBlocks || !router.blocks.inBlock(slot, address, port))
      return owner;
    const table = router.table;
    if (table.version !== this.remoteOwnersVersion) {
      this.remoteOwnersVersion = table.version;
      this.remoteOwners = table.owner.some((o) => o >= this.workers);
    }
    if (!this.remoteOwners) return -1;
    this.lastShard = UNLEASED_BLOCK;
    return OWNER_UNLEASED;
  }

  /** A packet of another node's shard: to the fabric here (worker 0), else to worker 0's ring. */
  private toRemote(buffer: Uint8Array, start: number, length: number): void {
    this.remoteForwarded++;
    if (this.remote !== null) this.remote.forward(buffer, start, length, this.lastShard);
    else if (this.worker !== 0) this.forward(buffer, start, length, 0, HANDOFF_REMOTE);
  }

  /** True when the packet `ownerOf` just classified is an IPv4 fragment steered by its datagram. */
  get isSteered(): boolean {
    return this.steer;
  }

  /**
   * At the steering worker: the owner of a fragment's datagram. A first fragment (offset 0) carries the
   * ports: route it and remember the owner; a later one uses what its first fragment left, or -2 (drop,
   * counted) when the first fragment has not been seen: the PLAT does not reassemble out-of-order datagrams.
   */
  ownerOfFragment(buffer: Uint8Array, ip: number, length: number, nowMs: number): number {
    const headerBytes = (buffer[ip] & 15) << 2;
    const slot = this.fragmentSlotOf(buffer, ip) & (FRAGMENT_ROUTES - 1);
    const offset = ((buffer[ip + 6] & 0x1f) << 8) | buffer[ip + 7];
    const k = slot * 4;
    const key = this.routeKey;
    if (offset === 0) {
      const owner = this.ownerOfIpv4(buffer, ip, headerBytes, length);
      key[k] = this.keyWord0(buffer, ip);
      key[k + 1] = this.word(buffer, ip + 12);
      key[k + 2] = this.word(buffer, ip + 16);
      key[k + 3] = 1;
      this.routeOwner[slot] = owner;
      this.routeStampMs[slot] = nowMs;
      return owner;
    }
    if (
      nowMs - this.routeStampMs[slot] <= FRAGMENT_ROUTE_LIFETIME_MS &&
      key[k] === this.keyWord0(buffer, ip) &&
      key[k + 1] === this.word(buffer, ip + 12) &&
      key[k + 2] === this.word(buffer, ip + 16)
    ) {
      return this.routeOwner[slot];
    }
    this.counters.fragmentsUnrouted++;
    return -2;
  }

  /** Copies a packet (`buffer[start, start + length)`, virtio header included) into the ring to `to`. */
  forward(buffer: Uint8Array, start: number, length: number, to: number, tag: number): boolean {
    const producer = this.producers[to];
    assert.ok(producer !== null, 'a worker forwards only to another worker');
    if (producer.push(buffer, start, length, tag)) {
      this.counters.forwarded++;
      if (tag === HANDOFF_FRAGMENT) this.counters.fragmentsSteered++;
      return true;
    }
    this.counters.ringFull++;
    return false;
  }

  /** Publishes everything forwarded since the last call, and wakes each receiver: once per batch. */
  publish(): void {
    const producers = this.producers;
    for (let to = 0; to < producers.length; to++) {
      const producer = producers[to];
      if (producer === null || producer.pendingPackets === 0) continue;
      producer.publish();
      if (this.wake !== null) this.wake(to);
    }
  }

  /**
   * Sorts a TUN batch: packets of other workers' shards are copied into their rings (published at the end,
   * once), the rest are compacted to the front of `offsets` / `lengths` in their order. Returns how many
   * stay here for the local step. IPv4 fragments go to their datagram's worker first (`ownerOfFragment`).
   */
  splitBatch(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    nowMs: number,
  ): number {
    const vnet = this.vnetHdrBytes;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const start = offsets[i];
      const length = lengths[i];
      let owner = this.ownerOf(buffer, start + vnet, length - vnet);
      let tag = HANDOFF_OWNED;
      if (this.steer) {
        if (owner === this.worker) owner = this.ownerOfFragment(buffer, start + vnet, length - vnet, nowMs);
        else tag = HANDOFF_FRAGMENT;
      }
      if (owner === -2) continue; // a later fragment of an unknown datagram: counted, dropped
      if (owner >= this.workers) {
        this.toRemote(buffer, start, length);
        continue;
      }
      if (owner < 0 || owner === this.worker) {
        offsets[kept] = start;
        lengths[kept] = length;
        kept++;
        continue;
      }
      this.forward(buffer, start, length, owner, tag);
    }
    this.publish();
    this.remote?.flush();
    return kept;
  }

  /**
   * Takes the packets other workers passed here, ring by ring, as batches laid out like a TUN read
   * (the ring's bytes as the buffer, offsets, lengths, count), hands each batch to `handle`, then releases
   * the ring space. Steered fragments are routed here first (kept, passed on to their owner, or dropped).
   * Returns the number of packets handed to `handle`.
   */
  drain(
    handle: (buffer: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number) => void,
    nowMs: number,
  ): number {
    let total = 0;
    const batch = this.batch;
    const vnet = this.vnetHdrBytes;
    for (let from = 0; from < this.workers; from++) {
      const consumer = this.consumers[from];
      if (consumer === null) continue;
      const data = this.ringBuffers[from]!;
      while (consumer.poll(batch) > 0) {
        this.counters.received += batch.count;
        let kept = 0;
        for (let i = 0; i < batch.count; i++) {
          const start = batch.offsets[i];
          const length = batch.lengths[i];
          if (batch.tags[i] === HANDOFF_REMOTE) {
            // Passed to the fabric worker: route it again (the table may have moved) and send it.
            const owner = this.ownerOf(data, start + vnet, length - vnet);
            if (owner >= this.workers || (owner >= 0 && owner !== this.worker)) {
              if (owner >= this.workers) this.remote?.forward(data, start, length, this.lastShard);
              else this.forward(data, start, length, owner, HANDOFF_OWNED);
              continue;
            }
          } else if (batch.tags[i] === HANDOFF_FRAGMENT) {
            const owner = this.ownerOfFragment(data, start + vnet, length - vnet, nowMs);
            if (owner === -2) continue;
            if (owner >= this.workers) {
              this.toRemote(data, start, length);
              continue;
            }
            if (owner >= 0 && owner !== this.worker) {
              this.forward(data, start, length, owner, HANDOFF_OWNED);
              continue;
            }
          }
          batch.offsets[kept] = start;
          batch.lengths[kept] = length;
          kept++;
        }
        if (kept > 0) handle(data, batch.offsets, batch.lengths, kept);
        total += kept;
        consumer.release();
      }
    }
    this.publish();
    this.remote?.flush();
    return total;
  }

  /**
   * The least room (bytes) left in this worker's rings to the others: a reader that waits while it is
   * below one batch's worth loses nothing at the rings (it paces itself to its slowest peer).
   */
  outgoingRoomBytes(): number {
    let room = Number.POSITIVE_INFINITY;
    for (const producer of this.producers) {
      if (producer !== null) room = Math.min(room, producer.freeBytes());
    }
    return room;
  }

  /** True when another worker has published packets for this one. */
  hasIncoming(): boolean {
    for (const consumer of this.consumers) if (consumer?.hasData()) return true;
    return false;
  }

  /** Sleeps until another worker publishes packets for this one, or `timeoutMs`. */
  wait(timeoutMs: number): void {
    if (!this.hasIncoming()) this.bell.wait(timeoutMs);
  }

  private ownerOfIpv4(buffer: Uint8Array, ip: number, headerBytes: number, length: number): number {
    const protocol = buffer[ip + 9];
    const l4 = ip + headerBytes;
    const end = ip + length;
    if (protocol === 6 || protocol === 17) {
      if (l4 + 4 > end) return -1;
      const port = (buffer[l4 + 2] << 8) | buffer[l4 + 3];
      return this.route4(protocol === 6 ? 0 : 1, this.word(buffer, ip + 16), port);
    }
    if (protocol !== 1 || l4 + 8 > end) return -1;
    const type = buffer[l4];
    if (type === 0 || type === 8) {
      // Echo: the identifier is the query's "port" (RFC 6146 sec. 3.5.3).
      const id = (buffer[l4 + 4] << 8) | buffer[l4 + 5];
      return this.route4(2, this.word(buffer, ip + 16), id);
    }
    if (type !== 3 && type !== 11 && type !== 12) return -1;
    // An ICMP error quotes the packet the subscriber's flow sent: its source is the pool address and port.
    const inner = l4 + 8;
    if (inner + 20 > end || buffer[inner] >>> 4 !== 4) return -1;
    const innerL4 = inner + ((buffer[inner] & 15) << 2);
    const innerProtocol = buffer[inner + 9];
    if (innerL4 + 8 > end) return -1;
    const source = this.word(buffer, inner + 12);
    if (innerProtocol === 6 || innerProtocol === 17) {
      const port = (buffer[innerL4] << 8) | buffer[innerL4 + 1];
      return this.route4(innerProtocol === 6 ? 0 : 1, source, port);
    }
    if (innerProtocol === 1) {
      const id = (buffer[innerL4 + 4] << 8) | buffer[innerL4 + 5];
      return this.route4(2, source, id);
    }
    return -1;
  }

  private word(buffer: Uint8Array, at: number): number {
    return (buffer[at] << 24) | (buffer[at + 1] << 16) | (buffer[at + 2] << 8) | buffer[at + 3];
  }

  /** Identification and protocol of an IPv4 datagram in one word. */
  private keyWord0(buffer: Uint8Array, ip: number): number {
    return (buffer[ip + 4] << 24) | (buffer[ip + 5] << 16) | buffer[ip + 9];
  }

  /** A hash of (source, destination, identification, protocol): the same for every fragment of a datagram. */
  private fragmentSlotOf(buffer: Uint8Array, ip: number): number {
    let h = Math.imul(this.keyWord0(buffer, ip) ^ 0x2545f491, 0xcc9e2d51);
    h = Math.imul(h ^ (h >>> 15) ^ this.word(buffer, ip + 12), 0x1b873593);
    h = Math.imul(h ^ (h >>> 13) ^ this.word(buffer, ip + 16), 0x85ebca6b);
    return (h ^ (h >>> 16)) >>> 0;
  }
}
