// GENEVE (RFC 8926) framing of the inter-node fabric: the 8-byte base header (sec. 3.4) and one
// critical option of our own class (sec. 3.5) carrying virtual shard, key id, epoch, sender id, a 64-bit
// sequence number and a 128-bit MAC. Reading and writing are allocation-free byte loads and stores into
// caller buffers; a malformed frame is a reason code, never a throw.

/** IANA's UDP port for GENEVE (RFC 8926 sec. 3.3); packet tools decode this port as GENEVE. */
export const GENEVE_UDP_PORT = 6081;
/**
 * Our option class: 0xFFF0-0xFFFF is "Experimental Use" in IANA's Geneve Option Class registry
 * (RFC 8926 sec. 7.2); a registered class would replace it before interworking with other vendors.
 */
export const FABRIC_OPTION_CLASS = 0xfff6;
/** Option type 1 with the critical bit (0x80): a receiver that does not know the option must drop the frame. */
export const FABRIC_OPTION_TYPE = 0x81;
/** Option data in 4-byte words: shard+key+flags, epoch, sender, sequence (2), MAC (4). */
const OPTION_DATA_WORDS = 9;
/** Base header (8) + option header (4) + option data (36). */
export const FABRIC_HEADER_BYTES = 8 + 4 + OPTION_DATA_WORDS * 4;
/** Offset and length of the MAC inside the frame; the MAC covers every other byte. */
export const MAC_OFFSET = 32;
export const MAC_BYTES = 16;
/** Inner protocols (EtherType, RFC 8926 sec. 3.4). */
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
/** Default VNI of the fabric (24 bits): one cluster's segment. */
export const FABRIC_VNI_DEFAULT = 0x000464;

/** The fields of a fabric frame; one instance is reused per socket (no allocation per packet). */
export class FabricFields {
  protocol = ETHERTYPE_IPV6;
  vni = FABRIC_VNI_DEFAULT;
  shard = 0;
  keyId = 0;
  epoch = 0;
  sender = 0;
  /** The 64-bit sequence number as two 32-bit halves (JS numbers stay exact up to 2^53). */
  sequenceHigh = 0;
  sequenceLow = 0;

  get sequence(): number {
    return this.sequenceHigh * 0x1_0000_0000 + this.sequenceLow;
  }

  set sequence(value: number) {
    this.sequenceHigh = Math.floor(value / 0x1_0000_0000);
    this.sequenceLow = value >>> 0;
  }
}

/** Why a frame is not a fabric frame (0 = it is). */
export const FRAME_OK = 0;
export const FRAME_SHORT = 1;
export const FRAME_NOT_FABRIC = 2;
export const FRAME_OAM = 3;
export const FRAME_PROTOCOL = 4;

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function get16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function get32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** Writes the GENEVE header with our option at `frame[0..48)`; the MAC field is zeroed (filled later). */
export function writeFabricHeader(frame: Uint8Array, fields: FabricFields): void {
  frame[0] = ((OPTION_DATA_WORDS + 1) & 0x3f) | 0; // Ver 0, Opt Len in 4-byte words
  frame[1] = 0x40; // O = 0 (data), C = 1 (a critical option is present)
  put16(frame, 2, fields.protocol);
  frame[4] = (fields.vni >>> 16) & 0xff;
  frame[5] = (fields.vni >>> 8) & 0xff;
  frame[6] = fields.vni & 0xff;
  frame[7] = 0;
  put16(frame, 8, FABRIC_OPTION_CLASS);
  frame[10] = FABRIC_OPTION_TYPE;
  frame[11] = OPTION_DATA_WORDS; // R = 0, Length in 4-byte words
  put16(frame, 12, fields.shard);
  frame[14] = fields.keyId;
  frame[15] = 0;
  put32(frame, 16, fields.epoch);
  put32(frame, 20, fields.sender);
  put32(frame, 24, fields.sequenceHigh);
  put32(frame, 28, fields.sequenceLow);
  frame.fill(0, MAC_OFFSET, MAC_OFFSET + MAC_BYTES);
}

/**
 * Reads a frame's header into `fields`. Returns FRAME_OK, or why it is not a data frame of this fabric:
 * too short, another version / option layout / option class (FRAME_NOT_FABRIC), an OAM frame, or an
 * inner protocol other than IPv4 and IPv6.
 */
export function readFabricHeader(frame: Uint8Array, length: number, fields: FabricFields): number {
  if (length < FABRIC_HEADER_BYTES + 1) return FRAME_SHORT;
  if (frame[0] !== OPTION_DATA_WORDS + 1) return FRAME_NOT_FABRIC; // version 0 and exactly our option
  if ((frame[1] & 0x80) !== 0) return FRAME_OAM;
  if (
    get16(frame, 8) !== FABRIC_OPTION_CLASS ||
    frame[10] !== FABRIC_OPTION_TYPE ||
    (frame[11] & 0x1f) !== OPTION_DATA_WORDS
  ) {
    return FRAME_NOT_FABRIC;
  }
  const protocol = get16(frame, 2);
  if (protocol !== ETHERTYPE_IPV6 && protocol !== ETHERTYPE_IPV4) return FRAME_PROTOCOL;
  fields.protocol = protocol;
  fields.vni = (frame[4] << 16) | (frame[5] << 8) | frame[6];
  fields.shard = get16(frame, 12);
  fields.keyId = frame[14];
  fields.epoch = get32(frame, 16);
  fields.sender = get32(frame, 20);
  fields.sequenceHigh = get32(frame, 24);
  fields.sequenceLow = get32(frame, 28);
  return FRAME_OK;
}
