// The send half of an XDP queue for handlers written against the TUN batch contract: takes a batch of
// bare IPv4/IPv6 packets (writeBatch(fd, buffer, offsets, lengths, count), as libs/tun's addon), picks
// the interface by IP version (one interface for both, or an IPv6 and an IPv4 side), finds each
// packet's next-hop MAC in that interface's NeighbourTable and hands each interface's share to the
// addon, which copies every packet behind a 14-byte Ethernet header into a free UMEM frame and sends
// them with one wake-up. Allocation-free; a packet whose next hop is unknown is dropped and counted.
import type { XdpNative } from './native.js';
import type { NeighbourTable } from './neighbours.js';

export interface EthernetWriterStats {
  /** Packets handed to the TX ring. */
  sent: number;
  /** Packets dropped: no route through the interface or next hop not resolved (yet). */
  neighbourMisses: number;
  /** Packets the addon refused (too long for a frame, not IPv4/IPv6, no free frame, ring full). */
  refused: number;
}

/** Where packets of one IP version leave: a port's queue and that interface's neighbours. */
export interface EthernetTarget {
  handle: number;
  queue: number;
  neighbours: NeighbourTable;
}

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
  readonly stats: EthernetWriterStats = { sent: 0, neighbourMisses: 0, refused: 0 };
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
        this.stats.neighbourMisses++;
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
