// The fabric in a cluster PLAT node (issue 10): worker 0 of every node holds the node's one fabric socket
// (services/cluster FabricEndpoint, GENEVE with a keyed MAC). Packets of shards another node owns reach it
// from its own TUN reads and from the other workers' hand-off rings; it seals them for the owner and sends
// them at the end of each batch, peer by peer. Frames it accepts (members only, MAC, anti-replay, owner and
// epoch checked by the codec) go to the owning worker: translated here, or passed through the same ring a
// local hand-off uses. One socket per node, not per worker: Node 20's dgram cannot set SO_REUSEPORT, and
// one sender keeps the per-node sequence number (and the receivers' replay windows) exact.

import { checksumFinish as finish, sumWords } from '../../../../libs/packet/src/index.js';
import { GsoSegmenter } from '../../../../libs/tun/src/index.js';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  FABRIC_DROP_REASONS,
  FabricCodec,
  FabricEndpoint,
  type FabricFields,
  type FabricKeyConfig,
} from '../../../cluster/src/index.js';
import { HANDOFF_OWNED, type RemoteSink, UNLEASED_BLOCK, type WorkerHandoff } from '../routing/index.js';
import type { ClusterView } from './cluster-view.js';
import type { PlatClusterConfig } from './plat-cluster-config.js';

/** Counters of the fabric, as published next to the PLAT's gauges (status, metrics). */
export const fabricGaugeNames = [
  'fabric.accepted',
  ...FABRIC_DROP_REASONS.map((r) => `fabric.drop.${r}`),
  'fabric.sent',
  'fabric.received',
  'fabric.send.noPeer',
  'fabric.send.tooBig',
  // GSO super-packets: cut into segments in software (the fabric seals one packet per frame), and those
  // that could not be (a type or header the segmenter refuses: dropped).
  'fabric.send.segmented',
  'fabric.send.gso',
  'fabric.send.noRemoteOwner',
  // IPv4 to a pool block this node has not learned yet (another node leased it moments ago): copies sent
  // to other nodes' table shards, and packets dropped over UNLEASED_FORWARD_PER_SECOND.
  'fabric.send.unleased',
  'fabric.send.unleasedLimited',
  'fabric.send.errors',
  // Frames dropped because every send slab was still held by queued sends (a full socket buffer).
  'fabric.send.queueFull',
  'fabric.tableVersion',
  // The key id frames are sealed with now (changes with a key rotation, SIGHUP).
  'fabric.currentKeyId',
];

/**
 * Packets to not-yet-learned pool blocks a node passes to the other nodes' shards, per second (a token
 * bucket, burst one second's worth): a block is unknown here only between another node's lease and its
 * standby's fold (about a flush interval), so this bounds what a scan of the pool's free ports can make
 * the fabric carry.
 */
export const UNLEASED_FORWARD_PER_SECOND = 20_000;

/** virtio_net_hdr fields the forwarder looks at (libs/tun vnet.ts, little-endian). */
const VNET_NEEDS_CSUM = 0x01;

export class PlatFabric implements RemoteSink {
  readonly endpoint: FabricEndpoint;
  /** Per table shard: index of the owner in the endpoint's peers (-1: this node), and its epoch. */
  private peerOfShard = new Int32Array(0);
  private epochOfShard: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private readonly counts = {
    received: 0,
    segmented: 0,
    gso: 0,
    noRemoteOwner: 0,
    unleased: 0,
    unleasedLimited: 0,
  };
  private readonly unleasedPerSecond: number;
  private unleasedTokens: number;
  private unleasedRefillMs = 0;
  private readonly segmenter = new GsoSegmenter();
  /** Where the segments of the super-packet being cut go (set before each `segment` call). */
  private segmentPeer = 0;
  private segmentShard = 0;
  private segmentEpoch = 0;
  private readonly enqueueSegment = (packet: Uint8Array, offset: number, length: number) => {
    this.endpoint.enqueue(
      this.segmentPeer,
      this.segmentShard,
      this.segmentEpoch,
      packet,
      offset,
      length,
      packet[offset] >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4,
    );
  };
  tableVersion = 0;
  /** One packet offsets/lengths pair, to hand a received frame to the local step as a batch of one. */
  private readonly oneOffset = new Uint32Array(1);
  private readonly oneLength = new Uint32Array(1);

  private constructor(
    endpoint: FabricEndpoint,
    private readonly workers: number,
    private readonly vnetHdrBytes: number,
    private readonly handoff: WorkerHandoff,
    unleasedPerSecond: number,
  ) {
    this.endpoint = endpoint;
    this.unleasedPerSecond = unleasedPerSecond;
    this.unleasedTokens = unleasedPerSecond;
  }

  /**
   * Binds the node's fabric socket. `translate` is the worker's own step (a batch laid out like a TUN read);
   * frames for another worker go to it through `handoff`.
   */
  static async start(
    cluster: PlatClusterConfig,
    workers: number,
    vnetHdrBytes: number,
    handoff: WorkerHandoff,
    translate: (buffer: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number) => void,
    options: { unleasedPerSecond?: number } = {},
  ): Promise<PlatFabric> {
    const codec = new FabricCodec({
      nodeId: cluster.nodeId,
      keys: cluster.fabric.keys,
      currentKeyId: cluster.fabric.currentKeyId,
      mac: cluster.fabric.mac,
      vni: cluster.fabric.vni,
    });
    let fabric: PlatFabric | null = null;
    const endpoint = await FabricEndpoint.start({
      codec,
      host: cluster.fabric.host,
      port: cluster.fabric.port,
      receiveBufferBytes: cluster.fabric.receiveBufferBytes,
      onPacket: (frame, offset, length, fields) =>
        fabric?.receive(frame as Buffer, offset, length, fields, translate),
    });
    fabric = new PlatFabric(
      endpoint,
      workers,
      vnetHdrBytes,
      handoff,
      options.unleasedPerSecond ?? UNLEASED_FORWARD_PER_SECOND,
    );
    return fabric;
  }

  /** Installs a new cluster view: members (replay windows kept for those who stay), owners, epochs. */
  setView(view: ClusterView, nodeId: string): void {
    const peers = view.peers.filter((p) => p.nodeId !== nodeId);
    this.endpoint.codec.setMembers(peers);
    this.endpoint.codec.setShardView(view.table);
    this.endpoint.setPeers(peers);
    const { table } = view;
    const peerOf = new Int32Array(table.shardCount);
    for (let s = 0; s < table.shardCount; s++) {
      const owner = table.members[table.owner[s]];
      peerOf[s] = owner === nodeId ? -1 : peers.findIndex((p) => p.nodeId === owner);
      if (peerOf[s] === -1 && owner !== nodeId) peerOf[s] = -2; // a member without a fabric address
    }
    this.peerOfShard = peerOf;
    this.epochOfShard = table.epoch;
    this.tableVersion = table.version;
  }

  /** RemoteSink: seals a packet (virtio header first) of virtual shard `shard` for its owner. */
  forward(buffer: Uint8Array, start: number, length: number, shard: number): void {
    if (shard === UNLEASED_BLOCK) {
      this.forwardUnleased(buffer, start, length);
      return;
    }
    const tableShard = shard < 0 ? -1 : shard % this.workers;
    if (tableShard < 0 || tableShard >= this.peerOfShard.length || this.peerOfShard[tableShard] < 0) {
      // No owner elsewhere (a table not installed yet, or one that just moved the shard here).
      this.counts.noRemoteOwner++;
      return;
    }
    this.forwardTo(tableShard, buffer, start, length);
  }

  /** A packet to a pool block not learned yet: one copy to each table shard another node owns. */
  private forwardUnleased(buffer: Uint8Array, start: number, length: number): void {
    const now = performance.now();
    const refill = ((now - this.unleasedRefillMs) * this.unleasedPerSecond) / 1000;
    this.unleasedTokens = Math.min(this.unleasedPerSecond, this.unleasedTokens + refill);
    this.unleasedRefillMs = now;
    if (this.unleasedTokens < 1) {
      this.counts.unleasedLimited++;
      return;
    }
    this.unleasedTokens--;
    let sent = 0;
    for (let t = 0; t < this.peerOfShard.length; t++) {
      if (this.peerOfShard[t] < 0) continue;
      this.forwardTo(t, buffer, start, length);
      sent++;
    }
    if (sent === 0) this.counts.noRemoteOwner++;
    this.counts.unleased += sent;
  }

  /** Seals the packet for the owner of `tableShard` (a peer): whole, segmented, or checksum finished. */
  private forwardTo(tableShard: number, buffer: Uint8Array, start: number, length: number): void {
    const vnet = this.vnetHdrBytes;
    const ip = start + vnet;
    if (vnet > 0) {
      // A GSO super-packet: the fabric carries whole packets, so it is cut here as the kernel would cut it.
      if (buffer[start + 1] !== 0) {
        this.segmentPeer = this.peerOfShard[tableShard];
        this.segmentShard = tableShard;
        this.segmentEpoch = this.epochOfShard[tableShard];
        if (this.segmenter.segment(buffer, start, length, vnet, this.enqueueSegment) > 0)
          this.counts.segmented++;
        else this.counts.gso++;
        return;
      }
      // Checksum offload: the kernel left the L4 checksum partial; finish it so the frame carries a whole
      // packet (the receiver's virtio header says "complete").
      if ((buffer[start] & VNET_NEEDS_CSUM) !== 0) {
        const csumStart = buffer[start + 6] | (buffer[start + 7] << 8);
        const csumOffset = buffer[start + 8] | (buffer[start + 9] << 8);
        const field = ip + csumStart + csumOffset;
        if (field + 2 <= start + length) {
          let sum = finish(sumWords(buffer, ip + csumStart, start + length, 0));
          if (sum === 0 && csumOffset === 6) sum = 0xffff; // UDP: a computed 0 is sent as 0xffff (RFC 768)
          buffer[field] = sum >>> 8;
          buffer[field + 1] = sum & 0xff;
        }
        // Finished once: a second copy of the packet (UNLEASED_BLOCK) must not sum the checksum again.
        buffer[start] &= ~VNET_NEEDS_CSUM;
      }
    }
    const protocol = buffer[ip] >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
    this.endpoint.enqueue(
      this.peerOfShard[tableShard],
      tableShard,
      this.epochOfShard[tableShard],
      buffer,
      ip,
      length - vnet,
      protocol,
    );
  }

  flush(): void {
    this.endpoint.flush();
  }

  /**
   * An accepted frame: its inner packet gets a zeroed virtio header in front (written over the GENEVE
   * header's last bytes, which are no longer needed) and goes to the worker of its table shard.
   */
  private receive(
    frame: Buffer,
    offset: number,
    length: number,
    fields: FabricFields,
    translate: (buffer: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number) => void,
  ): void {
    this.counts.received++;
    const vnet = this.vnetHdrBytes;
    const start = offset - vnet;
    frame.fill(0, start, offset);
    const worker = fields.shard % this.workers;
    if (worker === 0) {
      this.oneOffset[0] = start;
      this.oneLength[0] = length + vnet;
      translate(frame, this.oneOffset, this.oneLength, 1);
    } else {
      this.handoff.forward(frame, start, length + vnet, worker, HANDOFF_OWNED);
      this.handoff.publish();
    }
  }

  /** Counter values in fabricGaugeNames order, written into `out` from `at`. */
  writeCounters(out: Float64Array, at: number): void {
    const codec = this.endpoint.codec;
    let i = at;
    for (let c = 0; c < codec.counts.length; c++) out[i++] = codec.counts[c];
    const e = this.endpoint;
    out[i++] = e.sent;
    out[i++] = this.counts.received;
    out[i++] = e.sendNoPeer;
    out[i++] = e.sendTooBig;
    out[i++] = this.counts.segmented;
    out[i++] = this.counts.gso;
    out[i++] = this.counts.noRemoteOwner;
    out[i++] = this.counts.unleased;
    out[i++] = this.counts.unleasedLimited;
    out[i++] = e.sendErrors;
    out[i++] = e.sendQueueFull;
    out[i++] = this.tableVersion;
    out[i++] = codec.keys.currentId;
  }

  /**
   * Replaces the accepted keys and the sending key (a rotation, SIGHUP; the main thread validated them).
   * Frames sealed with a key no longer listed are dropped from now on (`fabric.drop.unknown-key`).
   */
  setKeys(keys: readonly FabricKeyConfig[], currentKeyId: number | undefined): void {
    this.endpoint.codec.keys.set(keys, currentKeyId);
  }

  stop(): Promise<void> {
    return this.endpoint.stop();
  }
}
