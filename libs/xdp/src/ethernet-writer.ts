// The send half of an XDP queue for handlers written against the TUN batch contract: takes a batch of
// bare IPv4/IPv6 packets (writeBatch(fd, buffer, offsets, lengths, count), as libs/tun's addon), picks
// the interface by IP version (one interface for both, or an IPv6 and an IPv4 side), finds each
// packet's next-hop MAC in that interface's NeighbourTable and hands each interface's share to the
// addon, which copies every packet behind a 14-byte Ethernet header into a free UMEM frame and sends
// them with one wake-up. A packet whose next hop is not resolved yet is held (as the kernel queues
// packets while it resolves a neighbour, up to HOLD_PACKETS_MAX for HOLD_TIMEOUT_MS) and sent by
// retryHeld() once the neighbour table has the MAC; then dropped and counted. Allocation-free.
import type { XdpNative } from './native.js';
import type { NeighbourTable } from './neighbours.js';

export interface EthernetWriterStats {
  /** Packets handed to the TX ring. */
  sent: number;
  /** Packets dropped: no route, or next hop still unresolved after HOLD_TIMEOUT_MS, or hold full. */
  neighbourMisses: number;
  /** Packets held while their next hop was resolved (sent later or counted as misses). */
  held: number;
  /** Packets the addon refused (too long for a frame, not IPv4/IPv6, no free frame, ring full). */
  refused: number;
}

/** Where packets of one IP version leave: a port's queue and that interface's neighbours. */
export interface EthernetTarget {
  handle: number;
  queue: number;
  neighbours: NeighbourTable;
}

/** Packets held at most while their next hops resolve (the kernel's unres_qlen is 101 per neighbour). */
const HOLD_PACKETS_MAX = 128;
const HOLD_SLOT_BYTES = 2048;
/** How long held packets wait for their next hop before they are dropped. */
const HOLD_TIMEOUT_MS = 1000;

class Lane {
  readonly macs: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  count = 0;

  constructor(
    readonly target: EthernetTarget,
    packetsMax: number,
  ) {
    this.macs = new Uint8Array(packetsMax * 12);
    this.offsets = new Uint32Array(packetsMax);
    this.lengths = new Uint32Array(packetsMax);
  }
}

export class EthernetBatchWriter {
  readonly stats: EthernetWriterStats = { sent: 0, neighbourMisses: 0, refused: 0, held: 0 };
  private readonly heldBytes = new Uint8Array(HOLD_PACKETS_MAX * HOLD_SLOT_BYTES);
  private readonly heldOffsets = new Uint32Array(HOLD_PACKETS_MAX);
  private readonly heldLengths = new Uint32Array(HOLD_PACKETS_MAX);
  private heldCount = 0;
  private heldSinceMs = 0;
  private holding = true;
  private readonly lane4: Lane;
  private readonly lane6: Lane;

  /**
   * `ipv6` defaults to `ipv4` (one interface for both). packetsMax bounds one writeBatch call's share
   * per interface; longer batches are sent in pieces.
   */
  constructor(
    private readonly native: XdpNative,
    ipv4: EthernetTarget,
    ipv6: EthernetTarget = ipv4,
    private readonly packetsMax = 4096,
  ) {
    this.lane4 = new Lane(ipv4, packetsMax);
    this.lane6 = ipv6 === ipv4 ? this.lane4 : new Lane(ipv6, packetsMax);
  }

  /** Same contract as libs/tun's writeBatch: returns how many were sent; `fd` is ignored. */
  writeBatch(
    _fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
  ): number {
    let sent = 0;
    for (let i = 0; i < count; i++) {
      const at = offsets[i];
      const length = lengths[i];
      const version = buffer[at] >> 4;
      let lane: Lane;
      let found = false;
      if (version === 4 && length >= 20) {
        lane = this.lane4;
        const destination =
          (buffer[at + 16] << 24) | (buffer[at + 17] << 16) | (buffer[at + 18] << 8) | buffer[at + 19];
        found = lane.target.neighbours.findIpv4(destination, lane.macs, lane.count * 12);
      } else if (version === 6 && length >= 40) {
        lane = this.lane6;
        found = lane.target.neighbours.findIpv6(buffer, at + 24, lane.macs, lane.count * 12);
      } else {
        this.stats.neighbourMisses++;
        continue;
      }
      if (!found) {
        if (this.hold(buffer, at, length)) sent++;
        else this.stats.neighbourMisses++;
        continue;
      }
      const local = lane.target.neighbours.localMac;
      const macAt = lane.count * 12 + 6;
      for (let b = 0; b < 6; b++) lane.macs[macAt + b] = local[b];
      lane.offsets[lane.count] = at;
      lane.lengths[lane.count] = length;
      lane.count++;
      if (lane.count === this.packetsMax) sent += this.send(buffer, lane);
    }
    sent += this.send(buffer, this.lane4);
    if (this.lane6 !== this.lane4) sent += this.send(buffer, this.lane6);
    return sent;
  }

  /**
   * Sends the held packets whose next hop is known by now (call after the neighbour table's
   * maintain()); those still unresolved stay held until HOLD_TIMEOUT_MS, then are dropped and counted.
   */
  retryHeld(nowMs: number): void {
    const n = this.heldCount;
    if (n === 0) return;
    this.heldCount = 0;
    this.holding = nowMs - this.heldSinceMs < HOLD_TIMEOUT_MS;
    for (let i = 0; i < n; i++) this.heldOffsets[i] = i * HOLD_SLOT_BYTES;
    // Packets held again are copied to slots at or before their own, so reading ahead stays intact.
    this.writeBatch(0, this.heldBytes, this.heldOffsets, this.heldLengths, n);
    this.holding = true;
    if (this.heldCount === 0) this.heldSinceMs = 0;
  }

  private hold(buffer: Uint8Array, at: number, length: number): boolean {
    if (!this.holding || this.heldCount === HOLD_PACKETS_MAX || length > HOLD_SLOT_BYTES) return false;
    const slot = this.heldCount * HOLD_SLOT_BYTES;
    if (buffer === this.heldBytes) this.heldBytes.copyWithin(slot, at, at + length);
    else for (let i = 0; i < length; i++) this.heldBytes[slot + i] = buffer[at + i];
    this.heldLengths[this.heldCount] = length;
    if (this.heldCount === 0 && this.heldSinceMs === 0) this.heldSinceMs = Date.now();
    this.heldCount++;
    if (buffer !== this.heldBytes) this.stats.held++;
    return true;
  }

  private send(buffer: Uint8Array, lane: Lane): number {
    const n = lane.count;
    if (n === 0) return 0;
    lane.count = 0;
    const { handle, queue } = lane.target;
    const sent = this.native.write(handle, queue, buffer, lane.offsets, lane.lengths, n, lane.macs);
    this.stats.sent += sent;
    this.stats.refused += n - sent;
    return sent;
  }
}
