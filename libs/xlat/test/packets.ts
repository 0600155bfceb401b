// Test helpers: build IPv4/IPv6 packets with correct checksums from readable fields, and check the
// checksums of translated output independently of the code under test (a plain RFC 1071 sum).
import { parseIpv4Address, parseIpv6Address } from '../src/index.js';

export function v4(text: string): number {
  const a = parseIpv4Address(text);
  if (a === null) throw new Error(`bad IPv4 ${text}`);
  return a;
}

export function v6(text: string): Uint8Array {
  const a = parseIpv6Address(text);
  if (a === null) throw new Error(`bad IPv6 ${text}`);
  return a;
}

function sum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let s = 0;
  for (let i = start; i < end; i += 2) s += (bytes[i] << 8) | (i + 1 < end ? bytes[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let s = sum(bytes, start, end) + initial;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

export const r16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
export const r32 = (b: Uint8Array, o: number) =>
  ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
const w16 = (b: Uint8Array, o: number, v: number) => {
  b[o] = v >>> 8;
  b[o + 1] = v & 255;
};

export function udp(srcPort: number, dstPort: number, data: Uint8Array | number = 8): Uint8Array {
  const body = typeof data === 'number' ? filler(data) : data;
  const out = new Uint8Array(8 + body.length);
  w16(out, 0, srcPort);
  w16(out, 2, dstPort);
  w16(out, 4, out.length);
  out.set(body, 8);
  return out;
}

export function tcp(
  srcPort: number,
  dstPort: number,
  flags = 0x02,
  data: Uint8Array | number = 0,
): Uint8Array {
  const body = typeof data === 'number' ? filler(data) : data;
  const out = new Uint8Array(20 + body.length);
  w16(out, 0, srcPort);
  w16(out, 2, dstPort);
  out[4] = 0x12;
  out[7] = 0x34;
  out[12] = 0x50;
  out[13] = flags;
  w16(out, 14, 65535);
  out.set(body, 20);
  return out;
}

/** ICMP message (either family): type, code, 32-bit rest, body. Checksum filled by ipv4()/ipv6(). */
export function icmp(type: number, code: number, rest: number, data: Uint8Array | number = 8): Uint8Array {
  const body = typeof data === 'number' ? filler(data) : data;
  const out = new Uint8Array(8 + body.length);
  out[0] = type;
  out[1] = code;
  out[4] = rest >>> 24;
  out[5] = (rest >>> 16) & 255;
  out[6] = (rest >>> 8) & 255;
  out[7] = rest & 255;
  out.set(body, 8);
  return out;
}

export function filler(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + seed) & 255;
  return out;
}

export interface Ipv4Fields {
  src: string;
  dst: string;
  protocol: number;
  payload: Uint8Array;
  ttl?: number;
  tos?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  fragmentOffset?: number;
  options?: number[];
  /** Leave the L4 checksum as given (default: compute it for TCP/UDP/ICMP when not a fragment). */
  rawL4?: boolean;
  /** Override the total length field (inner packets quoted whole). */
  totalLength?: number;
}

export function ipv4(f: Ipv4Fields): Uint8Array {
  const options = f.options ?? [];
  const headerLength = 20 + options.length;
  const out = new Uint8Array(headerLength + f.payload.length);
  out[0] = 0x40 | (headerLength >> 2);
  out[1] = f.tos ?? 0;
  w16(out, 2, f.totalLength ?? out.length);
  w16(out, 4, f.id ?? 0);
  w16(out, 6, (f.df ? 0x4000 : 0) | (f.mf ? 0x2000 : 0) | (f.fragmentOffset ?? 0));
  out[8] = f.ttl ?? 64;
  out[9] = f.protocol;
  const src = v4(f.src);
  const dst = v4(f.dst);
  for (let i = 0; i < 4; i++) {
    out[12 + i] = (src >>> (24 - 8 * i)) & 255;
    out[16 + i] = (dst >>> (24 - 8 * i)) & 255;
  }
  out.set(options, 20);
  out.set(f.payload, headerLength);
  w16(out, 10, internetChecksum(out, 0, headerLength));
  const fragment = f.mf || (f.fragmentOffset ?? 0) !== 0;
  if (!f.rawL4 && !fragment) setL4Checksum4(out);
  return out;
}

function l4ChecksumOffset(protocol: number): number {
  return protocol === 6 ? 16 : protocol === 17 ? 6 : protocol === 1 || protocol === 58 ? 2 : -1;
}

export function setL4Checksum4(p: Uint8Array): void {
  const l4 = (p[0] & 15) * 4;
  const protocol = p[9];
  const at = l4ChecksumOffset(protocol);
  if (at < 0) return;
  w16(p, l4 + at, 0);
  const length = r16(p, 2) - l4;
  const pseudo = protocol === 1 ? 0 : sum(p, 12, 20) + protocol + length;
  let c = internetChecksum(p, l4, l4 + length, pseudo);
  if (protocol === 17 && c === 0) c = 0xffff;
  w16(p, l4 + at, c);
}

export interface Ipv6Fields {
  src: string;
  dst: string;
  nextHeader: number;
  payload: Uint8Array;
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
  /** Extension headers, already chained; `nextHeader` names the first one. */
  extensions?: Uint8Array;
  /** Upper-layer protocol after the extensions (for the checksum). */
  protocol?: number;
  rawL4?: boolean;
  payloadLength?: number;
}

export function ipv6(f: Ipv6Fields): Uint8Array {
  const ext = f.extensions ?? new Uint8Array(0);
  const out = new Uint8Array(40 + ext.length + f.payload.length);
  const tc = f.trafficClass ?? 0;
  const fl = f.flowLabel ?? 0;
  out[0] = 0x60 | (tc >> 4);
  out[1] = ((tc & 15) << 4) | ((fl >> 16) & 15);
  w16(out, 2, fl & 0xffff);
  w16(out, 4, f.payloadLength ?? out.length - 40);
  out[6] = f.nextHeader;
  out[7] = f.hopLimit ?? 64;
  out.set(v6(f.src), 8);
  out.set(v6(f.dst), 24);
  out.set(ext, 40);
  out.set(f.payload, 40 + ext.length);
  if (!f.rawL4) setL4Checksum6(out, 40 + ext.length, f.protocol ?? f.nextHeader);
  return out;
}

export function setL4Checksum6(p: Uint8Array, l4: number, protocol: number): void {
  const at = l4ChecksumOffset(protocol);
  if (at < 0) return;
  w16(p, l4 + at, 0);
  const length = p.length - l4;
  let c = internetChecksum(p, l4, p.length, sum(p, 8, 40) + protocol + length);
  if (protocol === 17 && c === 0) c = 0xffff;
  w16(p, l4 + at, c);
}

/** Fragment header bytes. */
export function fragmentHeader(
  nextHeader: number,
  offsetUnits: number,
  more: boolean,
  id: number,
): Uint8Array {
  const out = new Uint8Array(8);
  out[0] = nextHeader;
  w16(out, 2, (offsetUnits << 3) | (more ? 1 : 0));
  out[4] = id >>> 24;
  out[5] = (id >>> 16) & 255;
  out[6] = (id >>> 8) & 255;
  out[7] = id & 255;
  return out;
}

/** An options-type extension header (hop-by-hop, destination options) or a routing header. */
export function extensionHeader(
  nextHeader: number,
  lengthUnits = 0,
  fill?: (b: Uint8Array) => void,
): Uint8Array {
  const out = new Uint8Array((lengthUnits + 1) * 8);
  out[0] = nextHeader;
  out[1] = lengthUnits;
  if (fill) fill(out);
  else if (out.length > 2) {
    out[2] = 1; // PadN
    out[3] = out.length - 4;
  }
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Checks an unfragmented IPv4 packet: header checksum and L4 checksum (UDP 0 allowed). */
export function checksumsOk4(p: Uint8Array): boolean {
  const ihl = (p[0] & 15) * 4;
  if (internetChecksum(p, 0, ihl) !== 0) return false;
  const protocol = p[9];
  const at = l4ChecksumOffset(protocol);
  if (at < 0) return true;
  const length = r16(p, 2) - ihl;
  if (protocol === 17 && r16(p, ihl + 6) === 0) return true;
  const pseudo = protocol === 1 ? 0 : sum(p, 12, 20) + protocol + length;
  return internetChecksum(p, ihl, ihl + length, pseudo) === 0;
}

/** Checks the L4 checksum of an unfragmented IPv6 packet with no extension headers. */
export function checksumsOk6(p: Uint8Array, l4 = 40, protocol = p[6]): boolean {
  const at = l4ChecksumOffset(protocol);
  if (at < 0) return true;
  const length = 40 + r16(p, 4) - l4;
  return internetChecksum(p, l4, l4 + length, sum(p, 8, 40) + protocol + length) === 0;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
