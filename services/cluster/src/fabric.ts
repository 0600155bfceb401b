// The inter-node fabric (DESIGN.md "Sharding"): a packet whose shard another node owns is forwarded to
// it in a GENEVE frame (rfc8926-geneve.ts) over UDP, sealed with the cluster's MAC (fabric-mac.ts). The
// receiver accepts a frame only from a member at the member's address, with a valid MAC, a sequence
// number not seen before (replay-window.ts) and the epoch its table holds for a shard it owns; every
// other frame is dropped and counted by a named reason, and nothing on this path throws.
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { ClusterError, configError } from './errors.js';
import {
  FABRIC_MACS,
  type FabricKeyConfig,
  FabricKeys,
  type FabricMacAlgorithm,
  sealFrame,
  sealFrameBlake2s,
  verifyFrame,
  verifyFrameBlake2s,
} from './fabric-mac.js';
import type { OwnershipTable } from './ownership-table.js';
import { memberHash } from './rendezvous.js';
import { REPLAY_OK, REPLAY_SEEN, REPLAY_WINDOW_DEFAULT, ReplayWindow } from './replay-window.js';
import type { Blake2sMac } from './rfc7693-blake2s.js';
import {
  ETHERTYPE_IPV6,
  FABRIC_HEADER_BYTES,
  FABRIC_VNI_DEFAULT,
  FabricFields,
  FRAME_NOT_FABRIC,
  FRAME_OAM,
  FRAME_OK,
  FRAME_PROTOCOL,
  FRAME_SHORT,
  readFabricHeader,
  writeFabricHeader,
} from './rfc8926-geneve.js';

/** Every reason a received frame is dropped; `fabric.drop.<reason>` in status. */
export const FABRIC_DROP_REASONS = [
  'short',
  'not-fabric',
  'oam',
  'protocol',
  'vni',
  'non-member',
  'source-mismatch',
  'unknown-key',
  'mac',
  'replay',
  'replay-old',
  'epoch-stale',
  'epoch-newer',
  'not-owner',
] as const;
export type FabricDropReason = (typeof FABRIC_DROP_REASONS)[number];
const DROP = Object.fromEntries(FABRIC_DROP_REASONS.map((r, i) => [r, i + 1])) as Record<
  FabricDropReason,
  number
>;
/** Return value of open() for an accepted frame; anything else is 1 + the index of its drop reason. */
export const FABRIC_ACCEPT = 0;

/** Largest inner packet the fabric carries (a frame slot is this + the header). */
export const FABRIC_PAYLOAD_MAX = 9000;

export interface FabricPeer {
  nodeId: string;
  /** The member's fabric address as its packets arrive from it (IPv4 dotted or IPv6 text). */
  host: string;
  port: number;
}

interface PeerState extends FabricPeer {
  senderId: number;
  window: ReplayWindow;
}

export interface FabricCodecOptions {
  nodeId: string;
  keys: readonly FabricKeyConfig[];
  currentKeyId?: number;
  /** 24-bit GENEVE VNI of this cluster (default 0x464); frames of another VNI are dropped. */
  vni?: number;
  /** Anti-replay window in packets per sender (power of two, default 4096). */
  replayWindow?: number;
  /**
   * MAC algorithm, the same on every node: 'hmac-sha256' (default: Node's native SHA-256 is cheaper from
   * a few hundred bytes on) or 'blake2s' (allocation-free JS, cheaper for small packets). See the bench.
   */
  mac?: FabricMacAlgorithm;
  /** false: frames are sealed without a MAC and accepted without checking one (the benchmark's baseline only). */
  authenticate?: boolean;
}

/** Sealing and opening of fabric frames, without I/O: the socket (FabricEndpoint) and the benchmark share it. */
export class FabricCodec {
  readonly nodeId: string;
  readonly senderId: number;
  readonly vni: number;
  readonly keys: FabricKeys;
  readonly authenticate: boolean;
  readonly mac: FabricMacAlgorithm;
  private readonly windowSize: number;
  private readonly peers = new Map<number, PeerState>();
  private sequence = 0;
  private readonly sending = new FabricFields();
  /** Fields of the frame open() last accepted (valid until the next call). */
  readonly received = new FabricFields();
  /** drops[1 + reason index]; drops[0] counts accepted frames. */
  readonly counts = new Float64Array(FABRIC_DROP_REASONS.length + 1);
  private epochs: Uint32Array | null = null;
  private owned: Uint8Array | null = null;

  constructor(options: FabricCodecOptions) {
    this.nodeId = options.nodeId;
    this.senderId = memberHash(options.nodeId);
    const vni = options.vni ?? FABRIC_VNI_DEFAULT;
    if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
      throw configError('fabric.vni', `${vni}`, 'give an integer from 0 to 16777215 (24 bits)');
    }
    this.vni = vni;
    this.keys = new FabricKeys(options.keys, options.currentKeyId);
    this.windowSize = options.replayWindow ?? REPLAY_WINDOW_DEFAULT;
    if (
      !Number.isInteger(this.windowSize) ||
      this.windowSize < 64 ||
      (this.windowSize & (this.windowSize - 1)) !== 0
    ) {
      throw configError(
        'fabric.replayWindow',
        `${this.windowSize}`,
        'give a power of two of at least 64 (default 4096)',
      );
    }
    this.authenticate = options.authenticate ?? true;
    this.mac = options.mac ?? 'hmac-sha256';
    if (!FABRIC_MACS.includes(this.mac)) {
      throw configError(
        'fabric.mac',
        `"${this.mac}"`,
        `give one of ${FABRIC_MACS.join(', ')} (default hmac-sha256)`,
      );
    }
  }

  /** Members whose frames are accepted (this node excluded). A member that stays keeps its replay window. */
  setMembers(peers: readonly FabricPeer[]): void {
    const next = new Map<number, PeerState>();
    for (const peer of peers) {
      if (peer.nodeId === this.nodeId) continue;
      const senderId = memberHash(peer.nodeId);
      const known = this.peers.get(senderId);
      if (next.has(senderId)) {
        throw configError(
          'members',
          `${peer.nodeId} has the sender id of another member`,
          'rename one of the two nodes',
        );
      }
      const window =
        known !== undefined && known.nodeId === peer.nodeId
          ? known.window
          : new ReplayWindow(this.windowSize);
      next.set(senderId, { ...peer, senderId, window });
    }
    this.peers.clear();
    for (const [id, state] of next) this.peers.set(id, state);
  }

  /** The epochs and the shards this node owns, from the ownership table it routes by. */
  setShardView(table: OwnershipTable): void {
    const owned = new Uint8Array(table.shardCount);
    for (let s = 0; s < table.shardCount; s++)
      owned[s] = table.members[table.owner[s]] === this.nodeId ? 1 : 0;
    this.epochs = table.epoch;
    this.owned = owned;
  }

  /**
   * Writes a frame carrying `payload[0..payloadLength)` for `shard` at `epoch` into `frame` and returns its
   * length. Allocation-free with BLAKE2s; HMAC-SHA-256 allocates Node's Hmac object and digest per call.
   */
  seal(
    frame: Uint8Array,
    payload: Uint8Array,
    payloadLength: number,
    shard: number,
    epoch: number,
    protocol = ETHERTYPE_IPV6,
  ): number {
    const length = FABRIC_HEADER_BYTES + payloadLength;
    const f = this.sending;
    f.protocol = protocol;
    f.vni = this.vni;
    f.shard = shard;
    f.keyId = this.keys.currentId;
    f.epoch = epoch;
    f.sender = this.senderId;
    f.sequence = ++this.sequence;
    writeFabricHeader(frame, f);
    frame.set(
      payloadLength === payload.length ? payload : payload.subarray(0, payloadLength),
      FABRIC_HEADER_BYTES,
    );
    if (this.authenticate) {
      if (this.mac === 'blake2s') sealFrameBlake2s(this.keys.blake2sOf(f.keyId) as Blake2sMac, frame, length);
      else sealFrame(this.keys.secretOf(f.keyId) as Buffer, frame, length);
    }
    return length;
  }

  /**
   * seal() for a packet inside a larger buffer: writes the frame at `frame[at..]` from
   * `source[offset, offset + length)`. The copy takes one view of the source (Node has no copy between
   * two buffers at offsets without one); BLAKE2s adds nothing, HMAC-SHA-256 its Hmac and digest.
   */
  sealFrom(
    frame: Uint8Array,
    at: number,
    source: Uint8Array,
    offset: number,
    length: number,
    shard: number,
    epoch: number,
    protocol: number,
  ): number {
    const f = this.sending;
    f.protocol = protocol;
    f.vni = this.vni;
    f.shard = shard;
    f.keyId = this.keys.currentId;
    f.epoch = epoch;
    f.sender = this.senderId;
    f.sequence = ++this.sequence;
    const view = at === 0 ? frame : frame.subarray(at);
    writeFabricHeader(view, f);
    view.set(source.subarray(offset, offset + length), FABRIC_HEADER_BYTES);
    const total = FABRIC_HEADER_BYTES + length;
    if (this.authenticate) {
      if (this.mac === 'blake2s') sealFrameBlake2s(this.keys.blake2sOf(f.keyId) as Blake2sMac, view, total);
      else sealFrame(this.keys.secretOf(f.keyId) as Buffer, view, total);
    }
    return total;
  }

  /**
   * Checks a received frame from `sourceHost`: FABRIC_ACCEPT (fields in `received`, the inner packet at
   * FABRIC_HEADER_BYTES) or 1 + the index of the drop reason, counted either way. Never throws.
   */
  open(frame: Uint8Array, length: number, sourceHost: string): number {
    const f = this.received;
    const framing = readFabricHeader(frame, length, f);
    if (framing !== FRAME_OK) {
      return this.drop(
        framing === FRAME_SHORT
          ? DROP.short
          : framing === FRAME_NOT_FABRIC
            ? DROP['not-fabric']
            : framing === FRAME_OAM
              ? DROP.oam
              : framing === FRAME_PROTOCOL
                ? DROP.protocol
                : DROP['not-fabric'],
      );
    }
    if (f.vni !== this.vni) return this.drop(DROP.vni);
    const peer = this.peers.get(f.sender);
    if (peer === undefined) return this.drop(DROP['non-member']);
    if (peer.host !== sourceHost) return this.drop(DROP['source-mismatch']);
    if (this.authenticate) {
      const secret = this.keys.secretOf(f.keyId);
      if (secret === undefined) return this.drop(DROP['unknown-key']);
      const authentic =
        this.mac === 'blake2s'
          ? verifyFrameBlake2s(this.keys.blake2sOf(f.keyId) as Blake2sMac, frame, length)
          : verifyFrame(secret, frame, length);
      if (!authentic) return this.drop(DROP.mac);
    }
    // Only an authentic frame moves the window, so a forged one cannot push real traffic out of it.
    const replay = peer.window.accept(f.sequence);
    if (replay !== REPLAY_OK) return this.drop(replay === REPLAY_SEEN ? DROP.replay : DROP['replay-old']);
    const epochs = this.epochs;
    const owned = this.owned;
    if (epochs === null || owned === null || f.shard >= owned.length || owned[f.shard] === 0) {
      return this.drop(DROP['not-owner']);
    }
    if (f.epoch < epochs[f.shard]) return this.drop(DROP['epoch-stale']);
    if (f.epoch > epochs[f.shard]) return this.drop(DROP['epoch-newer']);
    this.counts[0]++;
    return FABRIC_ACCEPT;
  }

  /** Accepted frames and drops by reason (control plane: allocates). */
  counters(): Record<string, number> {
    const out: Record<string, number> = { 'fabric.accepted': this.counts[0] };
    FABRIC_DROP_REASONS.forEach((r, i) => {
      out[`fabric.drop.${r}`] = this.counts[i + 1];
    });
    return out;
  }

  private drop(code: number): number {
    this.counts[code]++;
    return code;
  }

  /** The peer a node id names, for sending. */
  peerOf(nodeId: string): FabricPeer | undefined {
    return this.peers.get(memberHash(nodeId));
  }
}

/** Frame slots the sender cycles through (a slot is reused after this many later sends). */
const SEND_SLOTS = 256;

export interface FabricEndpointOptions {
  codec: FabricCodec;
  /** Address to bind (a loopback or the node's fabric address); IPv6 text binds an udp6 socket. */
  host: string;
  /** 0 picks a free port (tests); production uses GENEVE's 6081. */
  port: number;
  /** Called for every accepted frame: the inner packet is frame[offset..offset+length). */
  onPacket: (frame: Uint8Array, offset: number, length: number, fields: FabricFields) => void;
}

/**
 * The fabric's UDP socket. Sending is batched per call (send() takes a batch for one peer), but Node's
 * dgram has no sendmmsg: each frame is one send syscall, so the batch saves JS work, not syscalls.
 */
export class FabricEndpoint {
  readonly codec: FabricCodec;
  private readonly socket: Socket;
  private readonly slab: Buffer;
  private slot = 0;
  private peerList: FabricPeer[] = [];
  private readonly pendingPeer = new Int32Array(SEND_SLOTS);
  private readonly pendingLength = new Int32Array(SEND_SLOTS);
  private pendingCount = 0;
  sent = 0;
  sendTooBig = 0;
  sendNoPeer = 0;
  sendErrors = 0;

  private constructor(options: FabricEndpointOptions, socket: Socket) {
    this.codec = options.codec;
    this.socket = socket;
    this.slab = Buffer.alloc(SEND_SLOTS * (FABRIC_HEADER_BYTES + FABRIC_PAYLOAD_MAX));
    socket.on('message', (frame: Buffer, from: RemoteInfo) => {
      if (this.codec.open(frame, frame.length, from.address) === FABRIC_ACCEPT) {
        options.onPacket(frame, FABRIC_HEADER_BYTES, frame.length - FABRIC_HEADER_BYTES, this.codec.received);
      }
    });
    // A send error is counted (sendErrors); a socket error must not end the process.
    socket.on('error', () => {
      this.sendErrors++;
    });
  }

  static async start(options: FabricEndpointOptions): Promise<FabricEndpoint> {
    const socket = createSocket({ type: isIPv6(options.host) ? 'udp6' : 'udp4' });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(options.port, options.host, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw new ClusterError(
        'XLAT64_ERR_FABRIC_SOCKET',
        `cannot bind the fabric socket to ${options.host}:${options.port}: ${(error as Error).message} — give a local address and a free port`,
        { cause: error },
      );
    }
    return new FabricEndpoint(options, socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /**
   * Forwards a batch of inner packets of `shard` (epoch `epoch`) to member `nodeId`; returns how many
   * were handed to the kernel. Packets too big or for an unknown member are counted, not thrown.
   */
  send(
    nodeId: string,
    shard: number,
    epoch: number,
    packets: readonly Uint8Array[],
    protocol = ETHERTYPE_IPV6,
  ): number {
    const peer = this.codec.peerOf(nodeId);
    if (peer === undefined) {
      this.sendNoPeer += packets.length;
      return 0;
    }
    const slotBytes = FABRIC_HEADER_BYTES + FABRIC_PAYLOAD_MAX;
    let sent = 0;
    for (const packet of packets) {
      if (packet.length > FABRIC_PAYLOAD_MAX) {
        this.sendTooBig++;
        continue;
      }
      const offset = this.slot * slotBytes;
      this.slot = (this.slot + 1) % SEND_SLOTS;
      const frame = this.slab.subarray(offset, offset + slotBytes);
      const length = this.codec.seal(frame, packet, packet.length, shard, epoch, protocol);
      this.socket.send(this.slab, offset, length, peer.port, peer.host);
      sent++;
    }
    this.sent += sent;
    return sent;
  }

  /**
   * Seals `source[offset, offset + length)` (an inner packet of `shard` at `epoch`) for member `peer` into
   * the next frame slot; the frames go out at flush(), grouped by peer (the PLAT's per-batch forwarding).
   * Returns false (counted) when the packet is too big or `peer` is no member. A full set of slots flushes.
   */
  enqueue(
    peer: number,
    shard: number,
    epoch: number,
    source: Uint8Array,
    offset: number,
    length: number,
    protocol: number,
  ): boolean {
    if (peer < 0 || peer >= this.peerList.length) {
      this.sendNoPeer++;
      return false;
    }
    if (length > FABRIC_PAYLOAD_MAX) {
      this.sendTooBig++;
      return false;
    }
    if (this.pendingCount === SEND_SLOTS) this.flush();
    const slotBytes = FABRIC_HEADER_BYTES + FABRIC_PAYLOAD_MAX;
    const at = this.pendingCount * slotBytes;
    this.codec.sealFrom(this.slab, at, source, offset, length, shard, epoch, protocol);
    this.pendingPeer[this.pendingCount] = peer;
    this.pendingLength[this.pendingCount] = FABRIC_HEADER_BYTES + length;
    this.pendingCount++;
    return true;
  }

  /** Sends the frames enqueued since the last flush, peer by peer. Returns how many were sent. */
  flush(): number {
    const count = this.pendingCount;
    if (count === 0) return 0;
    const slotBytes = FABRIC_HEADER_BYTES + FABRIC_PAYLOAD_MAX;
    const peers = this.peerList;
    for (let p = 0; p < peers.length; p++) {
      const peer = peers[p];
      for (let i = 0; i < count; i++) {
        if (this.pendingPeer[i] !== p) continue;
        this.socket.send(this.slab, i * slotBytes, this.pendingLength[i], peer.port, peer.host);
      }
    }
    this.sent += count;
    this.pendingCount = 0;
    this.slot = 0;
    return count;
  }

  /** The members enqueue() addresses by index (control plane: replaced whenever the members change). */
  setPeers(peers: readonly FabricPeer[]): void {
    this.flush();
    this.peerList = peers.map((p) => ({ nodeId: p.nodeId, host: p.host, port: p.port }));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

assert.ok(FABRIC_DROP_REASONS.length < 255, 'drop codes fit a byte');
