// Independent packet builder for the translator's oracle: IPv4 (RFC 791, options and fragments),
// IPv6 (RFC 8200, extension headers), TCP (RFC 9293), UDP (RFC 768), ICMPv4 (RFC 792), ICMPv6
// (RFC 4443), RFC 4884 extension structures and RFC 6052 address embedding. Written from the RFC
// text with node Buffer only; it deliberately imports nothing from libs/packet or libs/xlat so a
// shared misunderstanding cannot hide in both. Every checksum is computed unless a field override
// asks for a broken value.

/** Ones'-complement sum of 16-bit big-endian words over data[start, end), not folded. */
export function onesSum(data: Uint8Array, start = 0, end = data.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (i < end) sum += data[i] << 8;
  return sum;
}

/** Folds a 32-bit accumulation into 16 bits (end-around carry), without complementing. */
export function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The Internet checksum (RFC 1071) of the given accumulation. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

export function parseIpv4(text: string): Buffer {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`bad IPv4 address ${text}`);
  return Buffer.from(
    parts.map((p) => {
      const n = Number(p);
      if (!/^\d{1,3}$/.test(p) || n > 255) throw new Error(`bad IPv4 address ${text}`);
      return n;
    }),
  );
}

export function parseIpv6(text: string): Buffer {
  const out = Buffer.alloc(16);
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const words = (s: string): number[] => {
    if (s === '') return [];
    const res: number[] = [];
    const groups = s.split(':');
    groups.forEach((g, i) => {
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        res.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new Error(`bad IPv6 address ${text}`);
        res.push(Number.parseInt(g, 16));
      }
    });
    return res;
  };
  const h = words(head);
  const t = words(tail);
  if (dbl < 0 ? h.length !== 8 : h.length + t.length > 7) throw new Error(`bad IPv6 address ${text}`);
  h.forEach((w, i) => {
    out.writeUInt16BE(w, i * 2);
  });
  t.forEach((w, i) => {
    out.writeUInt16BE(w, (8 - t.length + i) * 2);
  });
  return out;
}

export function formatIpv4(b: Uint8Array, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

export function formatIpv6(b: Uint8Array, offset = 0): string {
  const w: string[] = [];
  for (let i = 0; i < 8; i++) w.push(((b[offset + 2 * i] << 8) | b[offset + 2 * i + 1]).toString(16));
  return w.join(':');
}

/**
 * RFC 6052 sec. 2.2: embeds an IPv4 address in a prefix of length 32, 40, 48, 56, 64 or 96. Bits 64
 * to 71 (the "u" octet) stay zero and the IPv4 octets skip them; the suffix is zero.
 */
export function embed6052(prefix: string, prefixLength: number, ipv4: string): string {
  const p = parseIpv6(prefix);
  const v4 = parseIpv4(ipv4);
  const out = Buffer.alloc(16);
  p.copy(out, 0, 0, prefixLength / 8);
  let pos = prefixLength / 8;
  for (let i = 0; i < 4; i++) {
    if (pos === 8) pos = 9;
    out[pos++] = v4[i];
  }
  if (![32, 40, 48, 56, 64, 96].includes(prefixLength)) throw new Error(`bad prefix length ${prefixLength}`);
  return formatIpv6(out);
}

/** A transport payload whose checksum the IP builder fills in once it knows the addresses. */
export interface L4 {
  kind: 'tcp' | 'udp' | 'icmp' | 'raw';
  /** Protocol number in IPv4 and next header in IPv6 (ICMP differs: 1 vs 58). */
  protocol4: number;
  protocol6: number;
  bytes: Buffer;
  /** Offset of the checksum field in `bytes`, or -1 when the protocol has none we compute. */
  checksumOffset: number;
  /** A fixed checksum value (deliberately wrong, or 0 for UDP) instead of computing it. */
  checksumOverride?: number;
}

export interface TcpOptions {
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  ack?: number;
  /** Flag bits: 0x02 SYN, 0x10 ACK, 0x18 PSH|ACK ... */
  flags?: number;
  window?: number;
  urgent?: number;
  /** TCP options, padded with zeros to a multiple of 4. */
  options?: Uint8Array;
  payload?: Uint8Array;
  checksum?: number;
  /** Overrides the data offset (in 32-bit words). */
  dataOffset?: number;
}

export function tcp(o: TcpOptions = {}): L4 {
  const opt = pad(o.options ?? Buffer.alloc(0), 4);
  const payload = o.payload ?? Buffer.alloc(0);
  const b = Buffer.alloc(20 + opt.length + payload.length);
  b.writeUInt16BE(o.srcPort ?? 40000, 0);
  b.writeUInt16BE(o.dstPort ?? 80, 2);
  b.writeUInt32BE((o.seq ?? 0x01020304) >>> 0, 4);
  b.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
  b[12] = (o.dataOffset ?? (20 + opt.length) / 4) << 4;
  b[13] = o.flags ?? 0x18;
  b.writeUInt16BE(o.window ?? 65535, 14);
  b.writeUInt16BE(o.urgent ?? 0, 18);
  Buffer.from(opt).copy(b, 20);
  Buffer.from(payload).copy(b, 20 + opt.length);
  return {
    kind: 'tcp',
    protocol4: 6,
    protocol6: 6,
    bytes: b,
    checksumOffset: 16,
    checksumOverride: o.checksum,
  };
}

export interface UdpOptions {
  srcPort?: number;
  dstPort?: number;
  payload?: Uint8Array;
  /** 0 means "no checksum" (legal in IPv4 only); any other value is written as is. */
  checksum?: number;
  /** Overrides the UDP length field. */
  length?: number;
}

export function udp(o: UdpOptions = {}): L4 {
  const payload = o.payload ?? Buffer.alloc(0);
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt16BE(o.srcPort ?? 40000, 0);
  b.writeUInt16BE(o.dstPort ?? 53, 2);
  b.writeUInt16BE(o.length ?? b.length, 4);
  Buffer.from(payload).copy(b, 8);
  return {
    kind: 'udp',
    protocol4: 17,
    protocol6: 17,
    bytes: b,
    checksumOffset: 6,
    checksumOverride: o.checksum,
  };
}

export interface IcmpOptions {
  type: number;
  code?: number;
  /** Bytes 4..7 of the ICMP header (identifier/sequence, MTU, pointer, length ...). */
  rest?: Uint8Array | number;
  body?: Uint8Array;
  checksum?: number;
}

/** ICMPv4 or ICMPv6 message; the family (and so the checksum rule) is decided by the IP builder. */
export function icmp(o: IcmpOptions): L4 {
  const body = o.body ?? Buffer.alloc(0);
  const b = Buffer.alloc(8 + body.length);
  b[0] = o.type;
  b[1] = o.code ?? 0;
  if (typeof o.rest === 'number') b.writeUInt32BE(o.rest >>> 0, 4);
  else if (o.rest) Buffer.from(o.rest).copy(b, 4, 0, 4);
  Buffer.from(body).copy(b, 8);
  return {
    kind: 'icmp',
    protocol4: 1,
    protocol6: 58,
    bytes: b,
    checksumOffset: 2,
    checksumOverride: o.checksum,
  };
}

/** Echo request/reply: identifier and sequence in the rest-of-header. */
export function icmpEcho(type: number, id: number, seq: number, data: Uint8Array, code = 0): L4 {
  const rest = Buffer.alloc(4);
  rest.writeUInt16BE(id, 0);
  rest.writeUInt16BE(seq, 2);
  return icmp({ type, code, rest, body: data });
}

/** Opaque payload of any protocol number; no checksum is touched. */
export function raw(protocol: number, bytes: Uint8Array): L4 {
  return {
    kind: 'raw',
    protocol4: protocol,
    protocol6: protocol,
    bytes: Buffer.from(bytes),
    checksumOffset: -1,
  };
}

export interface Ipv4Options {
  src: string;
  dst: string;
  tos?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** The reserved ("evil") flag bit. */
  reservedFlag?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragOffset?: number;
  ttl?: number;
  /** Overrides the protocol number taken from the payload. */
  protocol?: number;
  /** Raw option bytes, padded with zeros (End of Option List) to a multiple of 4. */
  options?: Uint8Array;
  payload: L4 | Uint8Array;
  /** When the payload is an L4 and this is false, its checksum is left as built (used for fragments). */
  computeL4Checksum?: boolean;
  // Deliberate breakage.
  version?: number;
  ihl?: number;
  totalLength?: number;
  headerChecksum?: number;
}

export function ipv4(o: Ipv4Options): Buffer {
  const opt = pad(o.options ?? Buffer.alloc(0), 4);
  const l4 = isL4(o.payload) ? o.payload : undefined;
  const payload = Buffer.from(l4 ? l4.bytes : (o.payload as Uint8Array));
  const hl = 20 + opt.length;
  const b = Buffer.alloc(hl + payload.length);
  b[0] = ((o.version ?? 4) << 4) | (o.ihl ?? hl / 4);
  b[1] = o.tos ?? 0;
  b.writeUInt16BE(o.totalLength ?? b.length, 2);
  b.writeUInt16BE(o.id ?? 0, 4);
  const frag = (o.fragOffset ?? 0) / 8;
  if (!Number.isInteger(frag)) throw new Error('fragment offset must be a multiple of 8');
  b.writeUInt16BE((o.reservedFlag ? 0x8000 : 0) | (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | frag, 6);
  b[8] = o.ttl ?? 64;
  b[9] = o.protocol ?? l4?.protocol4 ?? 0xfd;
  parseIpv4(o.src).copy(b, 12);
  parseIpv4(o.dst).copy(b, 16);
  Buffer.from(opt).copy(b, 20);
  payload.copy(b, hl);
  if (l4 && l4.checksumOffset >= 0 && o.computeL4Checksum !== false) {
    const c = hl + l4.checksumOffset;
    if (l4.checksumOverride !== undefined) b.writeUInt16BE(l4.checksumOverride, c);
    else {
      b.writeUInt16BE(0, c);
      let sum = onesSum(b, hl, b.length);
      if (l4.kind !== 'icmp')
        sum = onesSum(
          pseudo4(b.subarray(12, 16), b.subarray(16, 20), l4.protocol4, payload.length),
          0,
          12,
          sum,
        );
      let ck = finish(sum);
      if (l4.kind === 'udp' && ck === 0) ck = 0xffff;
      b.writeUInt16BE(ck, c);
    }
  }
  b.writeUInt16BE(0, 10);
  b.writeUInt16BE(o.headerChecksum ?? finish(onesSum(b, 0, hl)), 10);
  return b;
}

function pseudo4(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): Buffer {
  const p = Buffer.alloc(12);
  Buffer.from(src).copy(p, 0);
  Buffer.from(dst).copy(p, 4);
  p[9] = protocol;
  p.writeUInt16BE(length, 10);
  return p;
}

export type Ext6 =
  | { type: 'hopByHop' | 'destination'; options?: Uint8Array; nextHeader?: number }
  | { type: 'routing'; routingType?: number; segmentsLeft: number; data?: Uint8Array; nextHeader?: number }
  | { type: 'fragment'; offset: number; m: boolean; id: number; reserved?: number; nextHeader?: number }
  | { type: 'raw'; code: number; bytes: Uint8Array; nextHeader?: number };

export const extCode = { hopByHop: 0, routing: 43, fragment: 44, destination: 60 } as const;

function extBytes(e: Ext6, next: number): { code: number; bytes: Buffer } {
  const nh = e.nextHeader ?? next;
  switch (e.type) {
    case 'hopByHop':
    case 'destination': {
      // Options are padded with PadN/Pad1 so the header is a multiple of 8 bytes (RFC 8200 sec. 4.2).
      const opts = Buffer.from(e.options ?? Buffer.alloc(0));
      const total = Math.max(8, Math.ceil((2 + opts.length) / 8) * 8);
      const b = Buffer.alloc(total);
      b[0] = nh;
      b[1] = total / 8 - 1;
      opts.copy(b, 2);
      const padLen = total - 2 - opts.length;
      if (padLen === 1) b[2 + opts.length] = 0;
      else if (padLen >= 2) {
        b[2 + opts.length] = 1;
        b[3 + opts.length] = padLen - 2;
      }
      return { code: extCode[e.type], bytes: b };
    }
    case 'routing': {
      const data = Buffer.from(e.data ?? Buffer.alloc(4 + 16 * Math.max(1, e.segmentsLeft)));
      const total = Math.ceil((4 + data.length) / 8) * 8;
      const b = Buffer.alloc(total);
      b[0] = nh;
      b[1] = total / 8 - 1;
      b[2] = e.routingType ?? 0;
      b[3] = e.segmentsLeft;
      data.copy(b, 4);
      return { code: 43, bytes: b };
    }
    case 'fragment': {
      const b = Buffer.alloc(8);
      b[0] = nh;
      b[1] = e.reserved ?? 0;
      if (e.offset % 8 !== 0) throw new Error('fragment offset must be a multiple of 8');
      b.writeUInt16BE(e.offset | (e.m ? 1 : 0), 2);
      b.writeUInt32BE(e.id >>> 0, 4);
      return { code: 44, bytes: b };
    }
    case 'raw': {
      const b = Buffer.alloc(1 + e.bytes.length);
      b[0] = nh;
      Buffer.from(e.bytes).copy(b, 1);
      return { code: e.code, bytes: b };
    }
  }
}

export interface Ipv6Options {
  src: string;
  dst: string;
  trafficClass?: number;
  flowLabel?: number;
  hopLimit?: number;
  ext?: Ext6[];
  payload: L4 | Uint8Array;
  /** Overrides the last next header (default: the payload's protocol, 59 for raw bytes). */
  nextHeader?: number;
  computeL4Checksum?: boolean;
  // Deliberate breakage.
  version?: number;
  payloadLength?: number;
}

export function ipv6(o: Ipv6Options): Buffer {
  const l4 = isL4(o.payload) ? o.payload : undefined;
  const payload = Buffer.from(l4 ? l4.bytes : (o.payload as Uint8Array));
  const exts = o.ext ?? [];
  let next = o.nextHeader ?? l4?.protocol6 ?? 59;
  const chunks: Buffer[] = [];
  for (let i = exts.length - 1; i >= 0; i--) {
    const { code, bytes } = extBytes(exts[i], next);
    chunks.unshift(bytes);
    next = code;
  }
  const extLen = chunks.reduce((a, c) => a + c.length, 0);
  const b = Buffer.alloc(40 + extLen + payload.length);
  b.writeUInt32BE((((o.version ?? 6) << 28) | ((o.trafficClass ?? 0) << 20) | (o.flowLabel ?? 0)) >>> 0, 0);
  b.writeUInt16BE(o.payloadLength ?? extLen + payload.length, 4);
  b[6] = next;
  b[7] = o.hopLimit ?? 64;
  parseIpv6(o.src).copy(b, 8);
  parseIpv6(o.dst).copy(b, 24);
  let pos = 40;
  for (const c of chunks) {
    c.copy(b, pos);
    pos += c.length;
  }
  payload.copy(b, pos);
  if (l4 && l4.checksumOffset >= 0 && o.computeL4Checksum !== false) {
    const c = pos + l4.checksumOffset;
    if (l4.checksumOverride !== undefined) b.writeUInt16BE(l4.checksumOverride, c);
    else {
      b.writeUInt16BE(0, c);
      const sum = onesSum(
        b,
        pos,
        b.length,
        pseudo6Sum(b.subarray(8, 24), b.subarray(24, 40), l4.protocol6, payload.length),
      );
      let ck = finish(sum);
      if (l4.kind === 'udp' && ck === 0) ck = 0xffff;
      b.writeUInt16BE(ck, c);
    }
  }
  return b;
}

export function pseudo6Sum(src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): number {
  let sum = onesSum(src, 0, 16);
  sum = onesSum(dst, 0, 16, sum);
  sum += Math.floor(length / 0x10000) + (length & 0xffff);
  return sum + nextHeader;
}

export function pseudo4Sum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return onesSum(pseudo4(src, dst, protocol, length), 0, 12);
}

/**
 * Splits a whole IPv4 packet (no options) into fragments whose payloads have the given sizes (each
 * but the last a multiple of 8; the last size may be omitted and takes the rest). The packet's own
 * MF flag and offset are honoured, so a fragment can be fragmented again.
 */
export function fragment4(packet: Buffer, sizes: number[]): Buffer[] {
  const hl = (packet[0] & 0x0f) * 4;
  if (hl !== 20) throw new Error('fragment4 takes packets without options');
  const flags = packet.readUInt16BE(6);
  const baseOffset = (flags & 0x1fff) * 8;
  const lastMf = (flags & 0x2000) !== 0;
  const payload = packet.subarray(hl);
  const out: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < payload.length) {
    const size = Math.min(sizes[i] ?? payload.length - pos, payload.length - pos);
    const isLast = pos + size >= payload.length;
    if (!isLast && size % 8 !== 0) throw new Error('non-last fragment size must be a multiple of 8');
    const f = Buffer.alloc(hl + size);
    packet.copy(f, 0, 0, hl);
    payload.copy(f, hl, pos, pos + size);
    f.writeUInt16BE(f.length, 2);
    f.writeUInt16BE(
      (flags & 0xc000) | (isLast ? (lastMf ? 0x2000 : 0) : 0x2000) | ((baseOffset + pos) / 8),
      6,
    );
    f.writeUInt16BE(0, 10);
    f.writeUInt16BE(finish(onesSum(f, 0, hl)), 10);
    out.push(f);
    pos += size;
    i++;
  }
  return out;
}

/**
 * Splits a whole IPv6 packet without extension headers into fragments (RFC 8200 sec. 4.5) whose
 * fragmentable parts have the given sizes; a Fragment Header with `id` goes after the base header.
 */
export function fragment6(
  packet: Buffer,
  sizes: number[],
  id: number,
  baseOffset = 0,
  lastM = false,
): Buffer[] {
  const nh = packet[6];
  const payload = packet.subarray(40);
  const out: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < payload.length) {
    const size = Math.min(sizes[i] ?? payload.length - pos, payload.length - pos);
    const isLast = pos + size >= payload.length;
    if (!isLast && size % 8 !== 0) throw new Error('non-last fragment size must be a multiple of 8');
    const f = Buffer.alloc(48 + size);
    packet.copy(f, 0, 0, 40);
    f.writeUInt16BE(8 + size, 4);
    f[6] = 44;
    f[40] = nh;
    f.writeUInt16BE((baseOffset + pos) | ((isLast ? lastM : true) ? 1 : 0), 42);
    f.writeUInt32BE(id >>> 0, 44);
    payload.copy(f, 48, pos, pos + size);
    out.push(f);
    pos += size;
    i++;
  }
  return out;
}

/**
 * RFC 4884 sec. 7 extension structure: a 4-byte header (version 2, checksum over the structure)
 * followed by objects (length, class-num, c-type, payload).
 */
export function icmpExtension(objects: { classNum: number; cType: number; payload: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x20, 0, 0, 0])];
  for (const o of objects) {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(4 + o.payload.length, 0);
    h[2] = o.classNum;
    h[3] = o.cType;
    parts.push(h, Buffer.from(o.payload));
  }
  const b = Buffer.concat(parts);
  b.writeUInt16BE(finish(onesSum(b)), 2);
  return b;
}

/** Zero-pads to a multiple of `unit` bytes. */
export function pad(data: Uint8Array, unit: number): Buffer {
  const len = Math.ceil(data.length / unit) * unit;
  const b = Buffer.alloc(len);
  Buffer.from(data).copy(b);
  return b;
}

/** Zero-pads (or cuts) to exactly `length` bytes. */
export function padTo(data: Uint8Array, length: number): Buffer {
  const b = Buffer.alloc(length);
  Buffer.from(data).copy(b, 0, 0, Math.min(length, data.length));
  return b;
}

/** Deterministic filler bytes (i * 7 + seed) so payload shifts are visible in a diff. */
export function filler(length: number, seed = 0): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

/** Copy with one byte replaced (deliberate corruption). */
export function withByte(packet: Uint8Array, offset: number, value: number): Buffer {
  const b = Buffer.from(packet);
  b[offset] = value;
  return b;
}

/** Copy with a 16-bit field replaced. */
export function withU16(packet: Uint8Array, offset: number, value: number): Buffer {
  const b = Buffer.from(packet);
  b.writeUInt16BE(value & 0xffff, offset);
  return b;
}

/** Recomputes an IPv4 header checksum in place (after an edit); returns the buffer. */
export function fixIpv4Checksum(packet: Buffer, offset = 0): Buffer {
  const hl = (packet[offset] & 0x0f) * 4;
  packet.writeUInt16BE(0, offset + 10);
  packet.writeUInt16BE(finish(onesSum(packet, offset, offset + hl)), offset + 10);
  return packet;
}

function isL4(p: L4 | Uint8Array): p is L4 {
  return !(p instanceof Uint8Array);
}
