// virtio_net_hdr (virtio spec 1.x §5.1.6, include/uapi/linux/virtio_net.h): the header a TUN device
// opened with IFF_VNET_HDR puts in front of every packet. Pure parse/write helpers, and the rewrite
// a translator needs when a packet changes family (RFC 7915): GSO type TCPV4 <-> TCPV6, and hdr_len /
// csum_start shifted by the change in network-header size. Little-endian (virtio 1.0; x86/arm64).
//
// Checksum offload: when flags has NEEDS_CSUM, the L4 checksum field does NOT hold a finished
// checksum but the folded, un-complemented sum of the pseudo-header (addresses, protocol, L4 length);
// the receiver (or GSO segmentation) adds the payload from csum_start and stores the result at
// csum_start + csum_offset. A translator replaces the pseudo-header part only: new = old - sum(old
// addresses) + sum(new addresses) in one's-complement arithmetic (no complement, unlike RFC 1624's
// update of a finished checksum); the length and protocol terms are the same for IPv4 and IPv6.

/** Size of struct virtio_net_hdr. */
export const VNET_HDR_BYTES = 10;
/** Size of struct virtio_net_hdr_mrg_rxbuf / virtio_net_hdr_v1 (adds num_buffers). */
export const VNET_HDR_MRG_BYTES = 12;

export const VnetFlag = {
  /** The L4 checksum is partial: finish it from csumStart and store it at csumStart + csumOffset. */
  needsCsum: 0x01,
  /** The checksum was already verified (receive side). */
  dataValid: 0x02,
} as const;

export const VnetGso = {
  none: 0,
  tcpv4: 1,
  /** Legacy UFO: IP fragmentation offload. Never negotiated by libs/tun. */
  udp: 3,
  tcpv6: 4,
  /** UDP segmentation offload (USO), either family. */
  udpL4: 5,
  /** Flag bit: the TCP super-packet carries ECN CWR; segments need it only on the first. */
  ecn: 0x80,
} as const;

/** Field offsets inside the header. */
const FLAGS = 0;
const GSO_TYPE = 1;
const HDR_LEN = 2;
const GSO_SIZE = 4;
const CSUM_START = 6;
const CSUM_OFFSET = 8;

/** A decoded header. Reuse one object with readVnetHeader's `out` on hot paths. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export function createVnetHeader(): VnetHeader {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

const u16 = (b: Uint8Array, o: number) => b[o] | (b[o + 1] << 8);
const setU16 = (b: Uint8Array, o: number, v: number) => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
};

/** Decodes the header at buffer[offset] into `out` (no allocation) and returns it. */
export function readVnetHeader(buffer: Uint8Array, offset: number, out: VnetHeader): VnetHeader {
  out.flags = buffer[offset + FLAGS];
  out.gsoType = buffer[offset + GSO_TYPE];
  out.hdrLen = u16(buffer, offset + HDR_LEN);
  out.gsoSize = u16(buffer, offset + GSO_SIZE);
  out.csumStart = u16(buffer, offset + CSUM_START);
  out.csumOffset = u16(buffer, offset + CSUM_OFFSET);
  return out;
}

/** Encodes `header` at buffer[offset] (10 bytes; a 12-byte header's num_buffers is left alone). */
export function writeVnetHeader(buffer: Uint8Array, offset: number, header: VnetHeader): void {
  buffer[offset + FLAGS] = header.flags;
  buffer[offset + GSO_TYPE] = header.gsoType;
  setU16(buffer, offset + HDR_LEN, header.hdrLen);
  setU16(buffer, offset + GSO_SIZE, header.gsoSize);
  setU16(buffer, offset + CSUM_START, header.csumStart);
  setU16(buffer, offset + CSUM_OFFSET, header.csumOffset);
}

/** Writes an all-zero header: no GSO, checksum complete. What a translator emits for packets it built. */
export function clearVnetHeader(buffer: Uint8Array, offset: number, bytes: number = VNET_HDR_BYTES): void {
  buffer.fill(0, offset, offset + bytes);
}

export function vnetGsoType(buffer: Uint8Array, offset: number): number {
  return buffer[offset + GSO_TYPE] & ~VnetGso.ecn;
}

export function vnetGsoSize(buffer: Uint8Array, offset: number): number {
  return u16(buffer, offset + GSO_SIZE);
}

/** Outcome of adjustVnetHeaderForFamily; anything but `ok` means: do not forward as a super-packet. */
export const VnetAdjust = {
  ok: 0,
  /** The GSO type does not belong to the family being translated from (e.g. TCPV6 in an IPv4 packet). */
  familyMismatch: 1,
  /** Legacy UFO or an unknown GSO type: cannot be translated as one packet. */
  unsupportedGso: 2,
  /** hdr_len or csum_start would leave 0..65535 after the shift: the header was inconsistent. */
  outOfRange: 3,
} as const;
export type VnetAdjust = (typeof VnetAdjust)[keyof typeof VnetAdjust];

/**
 * Rewrites the header at buffer[offset] in place for a packet translated to `toFamily`, whose
 * network header grew by `l3DeltaBytes` (IPv4 -> IPv6: +20, or +28 with a fragment header, minus
 * IPv4 options; IPv6 -> IPv4: -20 minus any extension headers removed). TCP GSO switches
 * TCPV4 <-> TCPV6 (keeping the ECN bit); UDP_L4 (USO) serves both families and stays.
 *
 * A super-packet whose IPv6 form needs a Fragment header cannot stay a super-packet (the kernel does
 * not segment TCP behind a fragment header): the caller must segment it in software instead. RFC 7915
 * §5.1 only adds one for already-fragmented IPv4, which never arrives as GSO.
 */
export function adjustVnetHeaderForFamily(
  buffer: Uint8Array,
  offset: number,
  toFamily: 4 | 6,
  l3DeltaBytes: number,
): VnetAdjust {
  const raw = buffer[offset + GSO_TYPE];
  const ecn = raw & VnetGso.ecn;
  const type = raw & ~VnetGso.ecn;
  let newType = type;
  if (type === VnetGso.tcpv4 || type === VnetGso.tcpv6) {
    const fromFamily = type === VnetGso.tcpv4 ? 4 : 6;
    if (fromFamily === toFamily) return VnetAdjust.familyMismatch;
    newType = toFamily === 6 ? VnetGso.tcpv6 : VnetGso.tcpv4;
  } else if (type !== VnetGso.none && type !== VnetGso.udpL4) {
    return VnetAdjust.unsupportedGso;
  }
  const flags = buffer[offset + FLAGS];
  const hdrLen = u16(buffer, offset + HDR_LEN);
  const csumStart = u16(buffer, offset + CSUM_START);
  // hdr_len is only a hint (the kernel reports its linear length); 0 means "unknown" and stays 0.
  const newHdrLen = hdrLen === 0 ? 0 : hdrLen + l3DeltaBytes;
  const newCsumStart = flags & VnetFlag.needsCsum ? csumStart + l3DeltaBytes : csumStart;
  if (newHdrLen < 0 || newHdrLen > 0xffff || newCsumStart < 0 || newCsumStart > 0xffff) {
    return VnetAdjust.outOfRange;
  }
  buffer[offset + GSO_TYPE] = newType | (newType === VnetGso.none ? 0 : ecn);
  setU16(buffer, offset + HDR_LEN, newHdrLen);
  setU16(buffer, offset + CSUM_START, newCsumStart);
  return VnetAdjust.ok;
}

/**
 * Lowers gso_size so each segment's payload fits `maxSegmentPayloadBytes` (output MTU minus the
 * translated L3 and L4 headers). IPv4 -> IPv6 adds 20 bytes to every segment, so a 1500-byte IPv4
 * path into a 1500-byte IPv6 path needs the MSS cut by 20. Returns the resulting gso_size.
 */
export function clampVnetGsoSize(buffer: Uint8Array, offset: number, maxSegmentPayloadBytes: number): number {
  const gsoSize = u16(buffer, offset + GSO_SIZE);
  if (vnetGsoType(buffer, offset) === VnetGso.none || gsoSize <= maxSegmentPayloadBytes) return gsoSize;
  const clamped = Math.max(1, Math.min(0xffff, maxSegmentPayloadBytes));
  setU16(buffer, offset + GSO_SIZE, clamped);
  return clamped;
}
