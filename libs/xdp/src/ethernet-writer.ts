// The send half of an XDP queue for handlers written against the TUN batch contract: takes a batch of
// bare IPv4/IPv6 packets (writeBatch(fd, buffer, offsets, lengths, count), as libs/tun's addon), finds
// each packet's next-hop MAC in the NeighbourTable and hands the batch to the addon, which copies each
// packet behind a 14-byte Ethernet header into a free UMEM frame and sends them with one wake-up.
// Allocation-free; a packet whose next hop is not resolved yet is dropped and counted.

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

export class EthernetBatchWriter {
  readonly stats: EthernetWriterStats = { sent: 0, neighbourMisses: 0, refused: 0 };
  private readonly macs: Uint8Array;
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;

  constructor(
    private readonly native: XdpNative,
    private readonly handle: number,
    private readonly queue: number,
    private readonly neighbours: NeighbourTable,
    /** Largest batch writeBatch accepts; longer batches are sent in pieces. */
    private readonly packetsMax = 4096,
  ) {
    this.macs = new Uint8Array(packetsMax * 12);
    this.offsets = new Uint32Array(packetsMax);
    this.lengths = new Uint32Array(packetsMax);
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
    let n = 0;
    const macs = this.macs;
    const local = this.neighbours.localMac;
    for (let i = 0; i < count; i++) {
      const at = offsets[i];
      const length = lengths[i];
      const version = buffer[at] >> 4;
      let found = false;
      if (version === 4 && length >= 20) {
        const destination =
          (buffer[at + 16] << 24) | (buffer[at + 17] << 16) | (buffer[at + 18] << 8) | buffer[at + 19];
        found = this.neighbours.findIpv4(destination, macs, n * 12);
      } else if (version === 6 && length >= 40) {
        found = this.neighbours.findIpv6(buffer, at + 24, macs, n * 12);
      }
      if (!found) {
        this.stats.neighbourMisses++;
        continue;
      }
      for (let b = 0; b < 6; b++) macs[n * 12 + 6 + b] = local[b];
      this.offsets[n] = at;
      this.lengths[n] = length;
      n++;
      if (n === this.packetsMax) {
        sent += this.send(buffer, n);
        n = 0;
      }
    }
    if (n > 0) sent += this.send(buffer, n);
    return sent;
  }

  private send(buffer: Uint8Array, n: number): number {
    const sent = this.native.write(this.handle, this.queue, buffer, this.offsets, this.lengths, n, this.macs);
    this.stats.sent += sent;
    this.stats.refused += n - sent;
    return sent;
  }
}
