// Minimal libpcap file codec (the classic format, not pcapng): read every record of a capture
// with link types RAW/IPV4/IPV6/Ethernet/Linux SLL/SLL2 down to the L3 packet, and write
// LINKTYPE_RAW captures. Used by `xlat64 translate` and by tests that replay captures.
import { CliUsageError } from './errors.js';

export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

const MAGIC_MICROS = 0xa1b2c3d4;
const MAGIC_NANOS = 0xa1b23c4d;

export function isPcap(data: Uint8Array): boolean {
  if (data.length < 24) return false;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = view.getUint32(0, true);
  const be = view.getUint32(0, false);
  return le === MAGIC_MICROS || le === MAGIC_NANOS || be === MAGIC_MICROS || be === MAGIC_NANOS;
}

export interface PcapRecord {
  /** The L3 packet (IPv4 or IPv6), a view into the capture. */
  packet: Uint8Array;
  /** Capture time in microseconds since the epoch. */
  timeUs: number;
}

/** Every record's L3 packet; records whose link-layer header says "not IP" are skipped and counted. */
export function readPcap(data: Uint8Array, source: string): { records: PcapRecord[]; skipped: number } {
  if (!isPcap(data)) {
    throw new CliUsageError(
      `${source}: not a pcap file (pcapng is not supported: convert with 'editcap -F pcap')`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const littleEndian = view.getUint32(0, true) === MAGIC_MICROS || view.getUint32(0, true) === MAGIC_NANOS;
  const nanos = view.getUint32(0, littleEndian) === MAGIC_NANOS;
  const linkType = view.getUint32(20, littleEndian) & 0x0fffffff;
  if (
    ![
      LINKTYPE_ETHERNET,
      LINKTYPE_RAW,
      LINKTYPE_LINUX_SLL,
      LINKTYPE_IPV4,
      LINKTYPE_IPV6,
      LINKTYPE_LINUX_SLL2,
    ].includes(linkType)
  ) {
    throw new CliUsageError(
      `${source}: pcap link type ${linkType} is not supported (supported: Ethernet 1, RAW 101, Linux SLL 113, IPV4 228, IPV6 229, SLL2 276)`,
    );
  }
  const records: PcapRecord[] = [];
  let skipped = 0;
  let offset = 24;
  while (offset < data.length) {
    if (offset + 16 > data.length)
      throw new CliUsageError(`${source}: truncated record header at byte ${offset}`);
    const seconds = view.getUint32(offset, littleEndian);
    const fraction = view.getUint32(offset + 4, littleEndian);
    const capturedLength = view.getUint32(offset + 8, littleEndian);
    const start = offset + 16;
    if (start + capturedLength > data.length) {
      throw new CliUsageError(
        `${source}: record at byte ${offset} claims ${capturedLength} bytes, file ends first`,
      );
    }
    const frame = data.subarray(start, start + capturedLength);
    offset = start + capturedLength;
    const l3 = stripLinkLayer(frame, linkType);
    if (l3 === null) {
      skipped++;
      continue;
    }
    records.push({ packet: l3, timeUs: seconds * 1e6 + (nanos ? Math.floor(fraction / 1000) : fraction) });
  }
  return { records, skipped };
}

function stripLinkLayer(frame: Uint8Array, linkType: number): Uint8Array | null {
  let etherType: number;
  let offset: number;
  switch (linkType) {
    case LINKTYPE_RAW:
    case LINKTYPE_IPV4:
    case LINKTYPE_IPV6:
      return frame;
    case LINKTYPE_ETHERNET:
      if (frame.length < 14) return null;
      etherType = (frame[12] << 8) | frame[13];
      offset = 14;
      while ((etherType === 0x8100 || etherType === 0x88a8) && frame.length >= offset + 4) {
        etherType = (frame[offset + 2] << 8) | frame[offset + 3];
        offset += 4;
      }
      break;
    case LINKTYPE_LINUX_SLL:
      if (frame.length < 16) return null;
      etherType = (frame[14] << 8) | frame[15];
      offset = 16;
      break;
    default: // LINKTYPE_LINUX_SLL2
      if (frame.length < 20) return null;
      etherType = (frame[0] << 8) | frame[1];
      offset = 20;
      break;
  }
  if (etherType !== 0x0800 && etherType !== 0x86dd) return null;
  return frame.subarray(offset);
}

/** A LINKTYPE_RAW capture of the given packets, with microsecond timestamps. */
export function writePcap(packets: readonly { packet: Uint8Array; timeUs: number }[]): Uint8Array {
  let size = 24;
  for (const p of packets) size += 16 + p.packet.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC_MICROS, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setUint32(16, 262_144, true); // snaplen
  view.setUint32(20, LINKTYPE_RAW, true);
  let offset = 24;
  for (const p of packets) {
    view.setUint32(offset, Math.floor(p.timeUs / 1e6), true);
    view.setUint32(offset + 4, p.timeUs % 1e6, true);
    view.setUint32(offset + 8, p.packet.length, true);
    view.setUint32(offset + 12, p.packet.length, true);
    out.set(p.packet, offset + 16);
    offset += 16 + p.packet.length;
  }
  return out;
}
