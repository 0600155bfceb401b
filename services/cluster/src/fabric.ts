// The inter-node fabric (DESIGN.md "Sharding"): a packet whose shard another node owns is forwarded to
// it in a GENEVE frame (rfc8926-geneve.ts) over UDP, sealed with the cluster's MAC (fabric-mac.ts). The
// receiver accepts a frame only from a member at the member's address, with a valid MAC, a sequence
// number not seen before (replay-window.ts) and the epoch its table holds for a shard it owns; every
// other frame is dropped and counted by a named reason, and nothing on this path throws.
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { loadNative, type TunNative } from '../../../libs/tun/src/index.js';
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

/** Frame slots of the send ring by default (9,048 bytes each: 9.3 MB). */
const SEND_SLOTS = 1024;
const SLOT_BYTES = FABRIC_HEADER_BYTES + FABRIC_PAYLOAD_MAX;

export interface FabricEndpointOptions {
  codec: FabricCodec;
  /** Address to bind (a loopback or the node's fabric address); IPv6 text binds an udp6 socket. */
  host: string;
  /** 0 picks a free port (tests); production uses GENEVE's 6081. */
  port: number;
  /** Called for every accepted frame: the inner packet is frame[offset..offset+length). */
  onPacket: (frame: Uint8Array, offset: number, length: number, fields: FabricFields) => void;
  /** Frame slots of the send ring (default 1024); a test makes it small to wrap it. */
  sendSlots?: number;
  /** Send with sendmmsg where the addon loads (default true); false: dgram only (a test of that path). */
  batchSend?: boolean;
  /**
   * The socket's receive buffer in bytes (SO_RCVBUFFORCE when the process may, past rmem_max); absent:
   * the kernel's default (208 KiB, ~200 small frames as skbs). Measured with `npm run bench --
   * cluster-fabric` (1 Dec 2026): at an owner that two forwarders send 40,000 small frames/s in sendmmsg
   * bursts, the default overflows (RcvbufErrors, 5-11 % UDP loss) and 1-8 MiB do not, but TCP bulk across
   * the fabric fell with the deeper queue (3.3-4.1 Gbit/s with the default, 0.75-2.5 with 1-8 MiB, one
   * lab run each): so it stays the operator's choice.
   */
  receiveBufferBytes?: number;
}

/**
 * The fabric's UDP socket. A flush sends its frames with sendmmsg(2) through the libs/tun addon (64
 * frames per system call) while nothing waits in libuv's send queue; what the socket buffer has no room
 * for, and everything when the addon or the socket's fd is unavailable, goes through Node's dgram, one
 * send per frame.
 */
export class FabricEndpoint {
  readonly codec: FabricCodec;
  private readonly socket: Socket;
  /**
   * Frames are sealed into a ring of slots and sent from there. libuv sends a datagram at once when the
   * socket buffer has room, else queues it still pointing into its slot; so a slot is filled again only
   * once its send completed. Completions come in send order: a send issued while others are queued carries
   * a callback that moves `completedSeq`, and an empty send queue means every slot is free.
   */
  private readonly slots: number;
  private readonly ring: Buffer;
  /** Sequence of the send that used each slot (compared with completedSeq). */
  private readonly slotSeq: Float64Array;
  private issuedSeq = 0;
  private completedSeq = 0;
  /** FIFO of the sequences sent with the completion callback (at most one per slot in flight). */
  private readonly callbackSeqs: Float64Array;
  private callbackHead = 0;
  private callbackTail = 0;
  private readonly onSent = (error: Error | null) => {
    if (error !== null) this.sendErrors++;
    this.completedSeq = this.callbackSeqs[this.callbackHead];
    this.callbackHead = (this.callbackHead + 1) % this.slots;
  };
  private peerList: FabricPeer[] = [];
  private readonly pendingPeer: Int32Array;
  private readonly pendingLength: Int32Array;
  /** Enqueued frames not sent yet: slots pendingFrom .. pendingFrom + pendingCount - 1 (mod slots). */
  private pendingFrom = 0;
  private pendingCount = 0;
  sent = 0;
  sendTooBig = 0;
  sendNoPeer = 0;
  sendErrors = 0;
  /** Frames dropped because the next slot was still held by a send the kernel had not taken yet. */
  sendQueueFull = 0;
  /** Frames sent by sendmmsg (the rest of `sent` went through dgram). */
  sentBatched = 0;
  /** sendmmsg through the addon (null: not loadable here; dgram sends everything). */
  private readonly native: TunNative | null;
  /** Each peer's socket address for sendBatch, 32 bytes apart (setPeers). */
  private addresses = new Uint8Array(0);
  private readonly batchOffsets: Uint32Array;
  private readonly batchLengths: Uint32Array;
  private readonly batchPeers: Int32Array;
  private readonly batchErrors = new Int32Array(1);
  /** Receive side of the addon (receiveBatch): RECV_BATCH slots of SLOT_BYTES, lengths, senders. */
  private readonly rxBuffer: Buffer;
  private readonly rxFrames: Buffer[];
  private readonly rxLengths = new Uint32Array(RECV_BATCH);
  private readonly rxSources = new Uint8Array(RECV_BATCH * UDP_ADDRESS_BYTES);
  private readonly onPacket: FabricEndpointOptions['onPacket'];
  private readonly socketFd: number;
  /** Frames read by receiveBatch (recvmmsg). */
  receivedBatched = 0;
  /** The socket's receive buffer as the kernel reports it after setting it (SO_RCVBUF); 0 when not set. */
  readonly receiveBufferBytes: number;

  private constructor(options: FabricEndpointOptions, socket: Socket) {
    this.codec = options.codec;
    this.socket = socket;
    this.socketFd = socketFdOf(socket);
    this.slots = options.sendSlots ?? SEND_SLOTS;
    assert.ok(Number.isInteger(this.slots) && this.slots >= 1, 'sendSlots is a positive integer');
    this.ring = Buffer.alloc(this.slots * SLOT_BYTES);
    this.slotSeq = new Float64Array(this.slots);
    this.callbackSeqs = new Float64Array(this.slots);
    this.pendingPeer = new Int32Array(this.slots);
    this.pendingLength = new Int32Array(this.slots);
    this.native = options.batchSend === false ? null : loadSendBatch();
    this.onPacket = options.onPacket;
    this.rxBuffer = Buffer.alloc(this.native === null ? 0 : RECV_BATCH * SLOT_BYTES);
    this.rxFrames = Array.from({ length: this.native === null ? 0 : RECV_BATCH }, (_, i) =>
      this.rxBuffer.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES),
    );
    this.batchOffsets = new Uint32Array(this.slots);
    this.batchLengths = new Uint32Array(this.slots);
    this.batchPeers = new Int32Array(this.slots);
    const rx = loadSendBatch();
    this.receiveBufferBytes =
      rx === null || this.socketFd < 0 || options.receiveBufferBytes === undefined
        ? 0
        : rx.setReceiveBuffer(this.socketFd, options.receiveBufferBytes);
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
    const socket = createSocket({
      type: isIPv6(options.host) ? 'udp6' : 'udp4',
      // Peers are IP addresses (the configuration refuses names). Node resolves even an IP literal through
      // dns.lookup, which answers on the next tick, so send() would read its frame's bytes only after the
      // caller moved on (and may have sealed another frame into the slot). Answered at once, send() hands
      // the frame to libuv before it returns, and the send queue count says whether it is still held.
      lookup: (host, _options, callback) => callback(null, host, isIPv6(host) ? 6 : 4),
    });
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
   * The socket's file descriptor, for a reader that waits on other fds between event loop turns (libs/tun
   * readBatch's socketFd) and for the addon's sendmmsg/recvmmsg, or -1. Node 20 has no public accessor;
   * its dgram socket keeps the bound handle (which carries the fd on Unix) under its internal state
   * symbol (`_handle` would print a deprecation warning). Read once, at start: the fd never changes.
   */
  get fd(): number {
    return this.socketFd;
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
    this.flush();
    let sent = 0;
    for (const packet of packets) {
      if (packet.length > FABRIC_PAYLOAD_MAX) {
        this.sendTooBig++;
        continue;
      }
      const slot = this.pendingFrom;
      if (!this.slotFree(slot)) {
        this.sendQueueFull++;
        continue;
      }
      const frame = this.ring.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES);
      const length = this.codec.seal(frame, packet, packet.length, shard, epoch, protocol);
      this.transmit(slot, length, peer);
      this.pendingFrom = (slot + 1) % this.slots;
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
    if (this.pendingCount === this.slots) this.flush();
    const slot = (this.pendingFrom + this.pendingCount) % this.slots;
    if (!this.slotFree(slot)) {
      this.sendQueueFull++;
      return false;
    }
    this.codec.sealFrom(this.ring, slot * SLOT_BYTES, source, offset, length, shard, epoch, protocol);
    this.pendingPeer[slot] = peer;
    this.pendingLength[slot] = FABRIC_HEADER_BYTES + length;
    this.pendingCount++;
    return true;
  }

  /** Sends the frames enqueued since the last flush, peer by peer. Returns how many were sent. */
  flush(): number {
    const count = this.pendingCount;
    if (count === 0) return 0;
    const peers = this.peerList;
    const fd = this.native === null ? -1 : this.fd;
    if (fd >= 0 && this.socket.getSendQueueCount() === 0) {
      // In slot order: a slot handed to the kernel is free again at once (sendmmsg copied it).
      for (let i = 0; i < count; i++) {
        const slot = (this.pendingFrom + i) % this.slots;
        this.batchOffsets[i] = slot * SLOT_BYTES;
        this.batchLengths[i] = this.pendingLength[slot];
        this.batchPeers[i] = this.pendingPeer[slot];
      }
      const errorsBefore = this.batchErrors[0];
      const done = this.native!.sendBatch(
        fd,
        this.ring,
        this.batchOffsets,
        this.batchLengths,
        count,
        this.batchPeers,
        this.addresses,
        this.batchErrors,
      );
      this.sendErrors += this.batchErrors[0] - errorsBefore;
      this.sentBatched += done;
      for (let i = 0; i < done; i++) this.slotSeq[(this.pendingFrom + i) % this.slots] = 0;
      // The socket buffer is full: the rest through dgram, which queues them until it has room.
      for (let i = done; i < count; i++) {
        const slot = (this.pendingFrom + i) % this.slots;
        this.transmit(slot, this.pendingLength[slot], peers[this.pendingPeer[slot]]);
      }
      this.sent += count;
      this.pendingFrom = (this.pendingFrom + count) % this.slots;
      this.pendingCount = 0;
      return count;
    }
    // Every pending frame names a listed peer (setPeers flushes before it changes the list).
    for (let p = 0; p < peers.length; p++) {
      for (let i = 0; i < count; i++) {
        const slot = (this.pendingFrom + i) % this.slots;
        if (this.pendingPeer[slot] === p) this.transmit(slot, this.pendingLength[slot], peers[p]);
      }
    }
    this.sent += count;
    this.pendingFrom = (this.pendingFrom + count) % this.slots;
    this.pendingCount = 0;
    return count;
  }

  /** Sends the frame in `slot`; a send that will wait behind queued ones reports its completion. */
  private transmit(slot: number, length: number, peer: FabricPeer): void {
    const seq = ++this.issuedSeq;
    this.slotSeq[slot] = seq;
    if (this.socket.getSendQueueCount() > 0) {
      this.callbackSeqs[this.callbackTail] = seq;
      this.callbackTail = (this.callbackTail + 1) % this.slots;
      this.socket.send(this.ring, slot * SLOT_BYTES, length, peer.port, peer.host, this.onSent);
    } else this.socket.send(this.ring, slot * SLOT_BYTES, length, peer.port, peer.host);
  }

  /** A slot may be sealed into: its last send completed (or nothing is queued at all). */
  private slotFree(slot: number): boolean {
    return this.slotSeq[slot] <= this.completedSeq || this.socket.getSendQueueCount() === 0;
  }

  /**
   * Reads the frames waiting on the socket with recvmmsg (at most RECV_BATCH) and hands each accepted one
   * to onPacket, as the 'message' listener does one datagram at a time. Returns how many were read (0:
   * none waited, or the addon is not loaded). For a reader that learned the socket is readable (libs/tun
   * readBatch's -2). The sender's address is matched against the members' (setPeers) without allocating.
   */
  receiveBatch(): number {
    const fd = this.native === null ? -1 : this.fd;
    if (fd < 0) return 0;
    const n = this.native!.recvBatch(
      fd,
      this.rxBuffer,
      SLOT_BYTES,
      RECV_BATCH,
      this.rxLengths,
      this.rxSources,
    );
    for (let i = 0; i < n; i++) {
      const frame = this.rxFrames[i];
      const length = this.rxLengths[i];
      if (this.codec.open(frame, length, this.hostOfSource(i)) === FABRIC_ACCEPT)
        this.onPacket(frame, FABRIC_HEADER_BYTES, length - FABRIC_HEADER_BYTES, this.codec.received);
    }
    this.receivedBatched += n;
    return n;
  }

  /** The member whose address sent datagram `i` of the last receiveBatch (its host text), or ''. */
  private hostOfSource(i: number): string {
    const src = this.rxSources;
    const at = i * UDP_ADDRESS_BYTES;
    const addresses = this.addresses;
    for (let p = 0; p < this.peerList.length; p++) {
      const base = p * UDP_ADDRESS_BYTES;
      // Family (2 bytes, host order) and address: sockaddr_in at 4..8, sockaddr_in6 at 8..24; not the port.
      if (src[at] !== addresses[base] || src[at + 1] !== addresses[base + 1]) continue;
      const v6 = addresses[base] === AF_INET6_LOW;
      const to = v6 ? 24 : 8;
      let same = true;
      for (let k = v6 ? 8 : 4; k < to && same; k++) same = src[at + k] === addresses[base + k];
      if (same) return this.peerList[p].host;
    }
    return '';
  }

  /** The members enqueue() addresses by index (control plane: replaced whenever the members change). */
  setPeers(peers: readonly FabricPeer[]): void {
    this.flush();
    this.peerList = peers.map((p) => ({ nodeId: p.nodeId, host: p.host, port: p.port }));
    const addresses = new Uint8Array(Math.max(1, peers.length) * UDP_ADDRESS_BYTES);
    if (this.native !== null)
      for (const [i, p] of peers.entries())
        this.native.udpAddress(p.host, p.port, addresses, i * UDP_ADDRESS_BYTES);
    this.addresses = addresses;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

assert.ok(FABRIC_DROP_REASONS.length < 255, 'drop codes fit a byte');

/** Bytes per address in sendBatch's `addresses` (libs/tun native: room for a sockaddr_in6). */
const UDP_ADDRESS_BYTES = 32;
/** Frames one receiveBatch reads (recvmmsg's batch). */
const RECV_BATCH = 64;
/** Low byte of sa_family for AF_INET6 (10) on little-endian Linux. */
const AF_INET6_LOW = 10;

/** A bound dgram socket's fd (Node 20 internals, see FabricEndpoint.fd), or -1. */
function socketFdOf(socket: Socket): number {
  const internal = socket as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>;
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const fd = state === undefined ? undefined : internal[state]?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

/** The addon's sendmmsg, or null where it cannot load (no addon built): dgram sends every frame then. */
function loadSendBatch(): TunNative | null {
  try {
    const native = loadNative();
    return typeof native.sendBatch === 'function' ? native : null;
  } catch {
    return null;
  }
}
