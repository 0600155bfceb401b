// Fuzz harness for the stateless translator (RFC 7915): a seeded PRNG, generators of random IPv4 and
// IPv6 packets (options, fragments, extension chains, ICMP errors with random inner packets, RFC
// 4884 lengths), mutations of the golden vectors, and a runner that pushes packets through
// createTranslator and collects every contract violation: an exception, a malformed output
// (test/support/wellformed.ts), or a drop without a named reason. XLAT64_FUZZ_SEED replays a run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TranslatorConfigInput } from '../../libs/xlat/src/contract.js';
import { createTranslator, dropReasonNames, type Translator, Verdict } from '../../libs/xlat/src/index.js';
import {
  type Ext6,
  finish,
  icmp,
  icmpExtension,
  ipv4,
  ipv6,
  type L4,
  onesSum,
  padTo,
  pseudo6Sum,
  raw,
  tcp,
  udp,
} from '../support/build.js';
import { checkPacket } from '../support/wellformed.js';

// ---------------------------------------------------------------------------------------------
// Seeded PRNG (sfc32 seeded through splitmix32): fast, 32-bit, reproducible across platforms.
// ---------------------------------------------------------------------------------------------

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 0x100000000) * n);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }

  /** Mostly small sizes, sometimes around the MTUs, rarely large. */
  size(): number {
    const r = this.int(100);
    if (r < 70) return this.int(120);
    if (r < 95) return 1180 + this.int(400);
    return this.int(9000);
  }
}

/** The run's base seed: XLAT64_FUZZ_SEED if set, else random. */
export const baseSeed: number = process.env.XLAT64_FUZZ_SEED
  ? Number(process.env.XLAT64_FUZZ_SEED) >>> 0
  : (Math.random() * 0x100000000) >>> 0;

/** A per-test seed derived from the base seed and the test's name, so tests are independent. */
export function seedFor(name: string): number {
  let h = baseSeed ^ 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Translator configurations the fuzz runs against.
// ---------------------------------------------------------------------------------------------

export const configs: TranslatorConfigInput[] = [
  { prefix: '2001:db8:64::/96' },
  { prefix: '64:ff9b::/96', eam: [{ ipv4: '192.0.0.1/32', ipv6: '2001:db8:1:464::1/128' }] },
  {
    prefix: '2001:db8:100::/40',
    eam: [{ ipv4: '192.0.2.0/24', ipv6: '2001:db8:aaaa::/120' }],
    pool6791: ['203.0.113.7/32'],
    lowestIpv6Mtu: 1402,
    udpZeroChecksum: 'drop',
  },
  { prefix: '2001:db8:122:344::/64', allowNonGlobalIpv4: true, mtu4: 1280, mtu6: 1280 },
  { prefix: '64:ff9b::/96', mtu4: 9000, mtu6: 9000, lowestIpv6Mtu: 1500, pool6791: ['198.51.100.0/30'] },
];

const V4_ADDRS = [
  '192.0.2.1',
  '198.51.100.2',
  '1.1.1.1',
  '9.9.9.9',
  '192.0.0.1',
  '192.0.2.77',
  '10.0.0.1',
  '203.0.113.9',
];
const V4_ILLEGAL = ['0.0.0.0', '127.0.0.1', '224.0.0.5', '255.255.255.255', '240.0.0.1'];
const V6_ADDRS = [
  '2001:db8:64::c000:201',
  '2001:db8:64::c633:6402',
  '64:ff9b::101:101',
  '64:ff9b::909:909',
  '64:ff9b::a00:1',
  '2001:db8:1:464::1',
  '2001:db8:aaaa::4d',
  '2001:db8:1c6:3364:2::',
  '2001:db8:122:344:c0:2:2100:0',
  '2001:db8:ffff::1',
  '::1',
  'ff02::1',
  '::',
];

function addr4(rng: Rng): string {
  if (rng.chance(0.05)) return rng.pick(V4_ILLEGAL);
  if (rng.chance(0.6)) return rng.pick(V4_ADDRS);
  return `${1 + rng.int(222)}.${rng.int(256)}.${rng.int(256)}.${rng.int(256)}`;
}

function addr6(rng: Rng): string {
  if (rng.chance(0.8)) return rng.pick(V6_ADDRS);
  const w: string[] = [];
  for (let i = 0; i < 8; i++) w.push(rng.int(0x10000).toString(16));
  return w.join(':');
}

// ---------------------------------------------------------------------------------------------
// Random packets.
// ---------------------------------------------------------------------------------------------

function randomOptions(rng: Rng): Buffer {
  const parts: number[][] = [];
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) {
    switch (rng.int(7)) {
      case 0:
        parts.push([1]);
        break;
      case 1:
        parts.push([0]);
        break;
      case 2:
        parts.push([7, 7, 4 + 4 * rng.int(2), 0, 0, 0, 0]);
        break;
      case 3:
        parts.push([rng.pick([131, 137]), 11, rng.pick([4, 8, 12, 3, 200]), ...rng.bytes(8)]);
        break;
      case 4:
        parts.push([68, 12, 5, 0, ...rng.bytes(8)]);
        break;
      case 5:
        parts.push([rng.int(256), rng.int(12), ...rng.bytes(rng.int(8))]);
        break;
      default:
        parts.push([130, 11, ...rng.bytes(9)]);
    }
  }
  return Buffer.from(parts.flat().slice(0, 40));
}

function randomL4(rng: Rng, family: 4 | 6, depth: number): L4 {
  const size = rng.size();
  switch (rng.int(family === 4 ? 5 : 5)) {
    case 0:
      return tcp({
        srcPort: rng.int(65536),
        dstPort: rng.int(65536),
        flags: rng.int(256),
        payload: rng.bytes(Math.min(size, 3000)),
        options: rng.chance(0.2) ? rng.bytes(4 * rng.int(10)) : undefined,
        checksum: rng.chance(0.05) ? rng.int(65536) : undefined,
      });
    case 1:
      return udp({
        srcPort: rng.int(65536),
        dstPort: rng.int(65536),
        payload: rng.bytes(Math.min(size, 3000)),
        checksum: rng.chance(0.1) ? 0 : rng.chance(0.05) ? rng.int(65536) : undefined,
        length: rng.chance(0.05) ? rng.int(65536) : undefined,
      });
    case 2:
    case 3:
      return randomIcmp(rng, family, depth);
    default:
      return raw(rng.pick([33, 132, 50, 51, 59, 2, 47, rng.int(256)]), rng.bytes(Math.min(size, 2000)));
  }
}

const ICMP4_TYPES = [0, 8, 3, 3, 3, 4, 5, 6, 9, 10, 11, 11, 12, 12, 13, 14, 15, 16, 17, 18, 40, 42];
const ICMP6_TYPES = [
  128, 129, 1, 1, 1, 2, 2, 3, 3, 4, 4, 100, 130, 131, 132, 133, 134, 135, 136, 137, 143, 200,
];

const ICMP4_ERROR_TYPES = [3, 3, 3, 4, 5, 11, 12, 12];
const ICMP6_ERROR_TYPES = [1, 1, 2, 3, 4, 4, 100];

function randomIcmp(rng: Rng, family: 4 | 6, depth: number, errorOnly = false): L4 {
  const type = errorOnly
    ? rng.pick(family === 4 ? ICMP4_ERROR_TYPES : ICMP6_ERROR_TYPES)
    : rng.pick(family === 4 ? ICMP4_TYPES : ICMP6_TYPES);
  const code = rng.chance(0.8) ? rng.int(17) : rng.int(256);
  const isError = family === 4 ? [3, 4, 5, 11, 12].includes(type) : type < 128;
  let rest = rng.u32();
  if (type === 3 && code === 4 && family === 4)
    rest = rng.pick([0, 68, 576, 1000, 1280, 1400, 1500, 9000, rng.int(65536)]);
  if (type === 2 && family === 6) rest = rng.pick([0, 1280, 1400, 1500, 9000, rng.u32()]);
  if ((type === 12 && family === 4) || (type === 4 && family === 6))
    rest = (rng.int(48) << (family === 4 ? 24 : 0)) >>> 0;
  let body: Buffer;
  if (isError && depth < 2 && rng.chance(0.9)) {
    const innerFamily = rng.chance(0.95) ? family : family === 4 ? 6 : 4;
    let inner = randomPacket(rng, innerFamily, depth + 1);
    const cut = rng.int(4);
    if (cut === 0) inner = inner.subarray(0, rng.int(inner.length + 1));
    else if (cut === 1) inner = inner.subarray(0, Math.min(inner.length, family === 4 ? 548 : 1232));
    body = Buffer.from(inner);
    if (rng.chance(0.2)) {
      // RFC 4884: an original datagram of at least 128 bytes, a length field, an extension.
      const unit = family === 4 ? 4 : 8;
      const padded = padTo(body, Math.max(128, Math.ceil(body.length / unit) * unit));
      const words = rng.chance(0.8) ? padded.length / unit : rng.int(256);
      body = Buffer.concat([
        padded,
        icmpExtension([{ classNum: rng.int(256), cType: rng.int(256), payload: rng.bytes(rng.int(40)) }]),
      ]);
      if (family === 4) rest = ((rest & 0xff00ffff) | ((words & 0xff) << 16)) >>> 0;
      else rest = ((rest & 0x00ffffff) | ((words & 0xff) << 24)) >>> 0;
    }
  } else body = rng.bytes(Math.min(rng.size(), 1500));
  return icmp({ type, code, rest, body, checksum: rng.chance(0.03) ? rng.int(65536) : undefined });
}

/** A random IPv4 (family 4) or IPv6 (family 6) packet, mostly well-formed, sometimes not. */
export function randomPacket(rng: Rng, family: 4 | 6, depth = 0, icmpErrorOnly = false): Buffer {
  const l4 = icmpErrorOnly ? randomIcmp(rng, family, depth, true) : randomL4(rng, family, depth);
  if (family === 4) {
    const fragmented = rng.chance(0.1);
    return ipv4({
      src: addr4(rng),
      dst: addr4(rng),
      tos: rng.int(256),
      id: rng.int(65536),
      df: rng.chance(0.5),
      mf: fragmented && rng.chance(0.7),
      reservedFlag: rng.chance(0.02),
      fragOffset: fragmented && rng.chance(0.5) ? 8 * rng.int(400) : 0,
      ttl: rng.chance(0.1) ? rng.int(3) : rng.int(256),
      options: rng.chance(0.15) ? randomOptions(rng) : undefined,
      payload: l4,
      headerChecksum: rng.chance(0.02) ? rng.int(65536) : undefined,
      totalLength: rng.chance(0.02) ? rng.int(65536) : undefined,
    });
  }
  const ext: Ext6[] = [];
  const n = rng.chance(0.6) ? 0 : rng.int(5);
  for (let i = 0; i < n; i++) {
    switch (rng.int(5)) {
      case 0:
        ext.push({ type: 'hopByHop', options: rng.chance(0.5) ? rng.bytes(rng.int(20)) : undefined });
        break;
      case 1:
        ext.push({ type: 'destination', options: rng.chance(0.5) ? rng.bytes(rng.int(20)) : undefined });
        break;
      case 2:
        ext.push({
          type: 'routing',
          routingType: rng.int(5),
          segmentsLeft: rng.chance(0.6) ? 0 : rng.int(3),
        });
        break;
      case 3:
        ext.push({
          type: 'fragment',
          offset: rng.chance(0.5) ? 0 : 8 * rng.int(400),
          m: rng.chance(0.5),
          id: rng.u32(),
        });
        break;
      default:
        ext.push({
          type: 'raw',
          code: rng.pick([51, 50, 135, 139, 140, 253]),
          bytes: rng.bytes(7 + 8 * rng.int(3)),
        });
    }
  }
  return ipv6({
    src: addr6(rng),
    dst: addr6(rng),
    trafficClass: rng.int(256),
    flowLabel: rng.int(0x100000),
    hopLimit: rng.chance(0.1) ? rng.int(3) : rng.int(256),
    ext,
    payload: l4,
    payloadLength: rng.chance(0.02) ? rng.int(65536) : undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// Mutations of the golden vectors.
// ---------------------------------------------------------------------------------------------

const vectorDir = new URL('../vectors/rfc7915/', import.meta.url);

/** The input packets of every golden vector (the mutation corpus). */
export function loadVectorInputs(): Buffer[] {
  const dir = vectorDir.pathname;
  return readdirSync(dir)
    .filter((n) => n.endsWith('.in'))
    .sort()
    .map((n) => readFileSync(join(dir, n)));
}

/** Recomputes the IPv4 header checksum (if the header is intact enough) so a mutation reaches deeper. */
function fixIpv4Header(p: Buffer): void {
  const hl = (p[0] & 0x0f) * 4;
  if (p.length < 20 || hl < 20 || hl > p.length) return;
  p.writeUInt16BE(0, 10);
  p.writeUInt16BE(finish(onesSum(p, 0, hl)), 10);
}

/** Recomputes the outer ICMP/ICMPv6 checksum of a packet without options/extension headers. */
function fixIcmpChecksum(p: Buffer): void {
  if (p[0] >> 4 === 4) {
    const hl = (p[0] & 0x0f) * 4;
    if (p[9] !== 1 || p.length < hl + 8) return;
    p.writeUInt16BE(0, hl + 2);
    p.writeUInt16BE(finish(onesSum(p, hl, p.length)), hl + 2);
  } else if (p[0] >> 4 === 6 && p.length >= 48 && p[6] === 58) {
    p.writeUInt16BE(0, 42);
    p.writeUInt16BE(
      finish(onesSum(p, 40, p.length, pseudo6Sum(p.subarray(8, 24), p.subarray(24, 40), 58, p.length - 40))),
      42,
    );
  }
}

/** 1-3 random mutations: bit flips, truncation, length fields, header bytes, inner headers, growth. */
export function mutate(rng: Rng, original: Buffer): Buffer {
  let p = Buffer.from(original);
  const n = 1 + rng.int(3);
  for (let i = 0; i < n && p.length > 0; i++) {
    switch (rng.int(8)) {
      case 0: {
        const pos = rng.chance(0.7) ? rng.int(Math.min(p.length, 80)) : rng.int(p.length);
        p[pos] ^= 1 << rng.int(8);
        break;
      }
      case 1:
        p = p.subarray(0, rng.int(p.length + 1));
        break;
      case 2: {
        const off = p[0] >> 4 === 6 ? 4 : 2;
        if (p.length >= off + 2) {
          const cur = p.readUInt16BE(off);
          p.writeUInt16BE(rng.chance(0.5) ? (cur + rng.int(17) - 8) & 0xffff : rng.int(65536), off);
        }
        break;
      }
      case 3: {
        const pos = rng.int(Math.min(p.length, 48));
        p[pos] = rng.int(256);
        break;
      }
      case 4: {
        // The quoted packet of an ICMP error (IPv4 at 28, IPv6 at 48): tamper with its header.
        const base = p[0] >> 4 === 6 ? 48 : 28;
        if (p.length > base) {
          const pos = base + rng.int(Math.min(p.length - base, 48));
          p[pos] = rng.int(256);
        }
        break;
      }
      case 5:
        p = Buffer.concat([p, rng.bytes(rng.int(64))]);
        break;
      case 6: {
        // Extension chain / protocol tampering: next header or protocol byte.
        const pos = p[0] >> 4 === 6 ? rng.pick([6, 40, 48]) : 9;
        if (pos < p.length) p[pos] = rng.pick([0, 1, 6, 17, 43, 44, 58, 59, 60, 51, rng.int(256)]);
        break;
      }
      default:
        p = p.subarray(0, p.length - (1 + rng.int(Math.min(8, p.length))));
    }
  }
  if (p.length > 0 && p[0] >> 4 === 4 && rng.chance(0.6)) fixIpv4Header(p);
  if (rng.chance(0.5)) fixIcmpChecksum(p);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Runner.
// ---------------------------------------------------------------------------------------------

export interface FuzzStats {
  packets: number;
  translated: number;
  replied: number;
  dropped: number;
  failures: string[];
}

const output = new Uint8Array(65535 + 9000 + 2048);
let translators: Translator[] | undefined;

function allTranslators(): Translator[] {
  translators ??= configs.map((c) => createTranslator(c));
  return translators;
}

/**
 * Runs `count` packets from `next(rng, i)` (each returning the packet and its direction) through a
 * translator picked at random, and records every violation of the contract with the seed.
 */
export function runFuzz(
  name: string,
  count: number,
  next: (rng: Rng, i: number) => { packet: Buffer; direction: 46 | 64 },
): FuzzStats {
  const seed = seedFor(name);
  const rng = new Rng(seed);
  const ts = allTranslators();
  const stats: FuzzStats = { packets: 0, translated: 0, replied: 0, dropped: 0, failures: [] };
  const fail = (i: number, packet: Uint8Array, direction: number, config: number, what: string) => {
    if (stats.failures.length < 5) {
      stats.failures.push(
        `${name} packet ${i} (direction ${direction}, config ${config}): ${what}; input ${Buffer.from(packet).toString('hex').slice(0, 400)}`,
      );
    }
  };
  for (let i = 0; i < count; i++) {
    const { packet, direction } = next(rng, i);
    const ci = rng.int(ts.length);
    const t = ts[ci];
    const original = Buffer.from(packet);
    let verdict: number;
    try {
      verdict = direction === 46 ? t.v4ToV6(packet, output) : t.v6ToV4(packet, output);
    } catch (e) {
      fail(i, packet, direction, ci, `threw ${(e as Error)?.stack ?? e}`);
      continue;
    }
    // Translation is a pure function of its input (CONVENTIONS.md 2): the input bytes stay as they were.
    if (!original.equals(packet)) fail(i, original, direction, ci, 'the input buffer was modified');
    stats.packets++;
    const r = t.result;
    if (verdict === Verdict.Drop) {
      stats.dropped++;
      const reasonName = dropReasonNames[r.reason];
      if (reasonName === undefined || reasonName === 'none')
        fail(i, packet, direction, ci, `Drop with unnamed reason ${r.reason}`);
      continue;
    }
    if (verdict !== Verdict.Translate && verdict !== Verdict.ReplyIcmp) {
      fail(i, packet, direction, ci, `unknown verdict ${verdict}`);
      continue;
    }
    if (verdict === Verdict.Translate) stats.translated++;
    else {
      stats.replied++;
      const reasonName = dropReasonNames[r.reason];
      if (reasonName === undefined || reasonName === 'none')
        fail(i, packet, direction, ci, `ReplyIcmp with unnamed reason ${r.reason}`);
      if (r.count !== 1) fail(i, packet, direction, ci, `ReplyIcmp wrote ${r.count} packets`);
    }
    // A translator carries an input's broken transport checksum or length over (RFC 7915 4.5 and 5.5
    // update checksums incrementally), so output problems the input already had are not its fault.
    const inherited = new Set(checkPacket(packet, { allowZeroTtl: true }).map(normalize));
    if (r.count < 1 || r.count > r.lengths.length) {
      fail(i, packet, direction, ci, `count ${r.count}`);
      continue;
    }
    let off = 0;
    for (let k = 0; k < r.count; k++) {
      const len = r.lengths[k];
      if (len <= 0 || off + len > output.length) {
        fail(i, packet, direction, ci, `packet ${k} length ${len}`);
        break;
      }
      const out = output.subarray(off, off + len);
      const problems = checkPacket(out).filter((x) => !inherited.has(normalize(x)));
      const outFamily = out[0] >> 4;
      // RFC 7757 sec. 4: a hairpinned IPv6 packet is translated back to IPv6.
      const wantFamily =
        (verdict === Verdict.Translate) === (direction === 46) || r.hairpinned === true ? 6 : 4;
      if (outFamily !== wantFamily) problems.push(`output family ${outFamily}, expected ${wantFamily}`);
      // RFC 7915 sec. 1.4: "the translator MUST send a Packet Too Big error message or fragment the
      // packet when the packet size exceeds the MTU of the next-hop interface".
      const mtu = outFamily === 6 ? (configs[ci].mtu6 ?? 1500) : (configs[ci].mtu4 ?? 1500);
      if (len > mtu) problems.push(`${len} bytes exceed the IPv${outFamily} MTU ${mtu}`);
      // RFC 4443 sec. 2.4 (c): an ICMPv6 error must not exceed the minimum IPv6 MTU; RFC 1812
      // sec. 4.3.2.3: a generated ICMPv4 error should not exceed 576 bytes.
      if (outFamily === 6 && out[6] === 58 && len > 1280 && out[40] < 128)
        problems.push(`ICMPv6 error of ${len} bytes > 1280`);
      if (verdict === Verdict.ReplyIcmp && outFamily === 4 && len > 576)
        problems.push(`generated ICMPv4 error of ${len} bytes > 576`);
      if (problems.length > 0) {
        fail(
          i,
          packet,
          direction,
          ci,
          `output ${k} of ${r.count} malformed: ${problems.join('; ')}; output ${Buffer.from(out).toString('hex').slice(0, 400)}`,
        );
      }
      off += len;
    }
    if (off !== r.length)
      fail(i, packet, direction, ci, `lengths sum to ${off} but result.length is ${r.length}`);
  }
  return stats;
}

/** A problem message without its family, so an input's "ICMPv4: checksum wrong" matches an output's "ICMPv6: ...". */
function normalize(problem: string): string {
  return problem
    .replace(/ICMPv[46]/g, 'ICMP')
    .replace(/IPv[46]/g, 'IP')
    .replace(/\d+/g, 'N');
}

/** The assertion message: the seed to replay with, then the first failures. */
export function failureReport(name: string, stats: FuzzStats): string {
  return `fuzz ${name} failed with base seed ${baseSeed} (replay: XLAT64_FUZZ_SEED=${baseSeed} npx vitest run test/fuzz):\n${stats.failures.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------
// Round trips: a plain packet translated there and back must come back with the same meaning.
// ---------------------------------------------------------------------------------------------

/** A global unicast IPv4 address (RFC 6890 special ranges avoided) for the round-trip tests. */
function globalIpv4(rng: Rng): string {
  for (;;) {
    const a = 1 + rng.int(223);
    if (a === 10 || a === 100 || a === 127 || a === 169 || a === 172 || a === 192 || a === 198 || a === 203)
      continue;
    return `${a}.${rng.int(256)}.${rng.int(256)}.${1 + rng.int(254)}`;
  }
}

/** A valid unfragmented TCP, UDP or ICMP echo packet of at most ~1200 bytes, addresses translatable under `prefix`. */
export function plainPacket(rng: Rng, family: 4 | 6, prefix: string): Buffer {
  const size = rng.chance(0.8) ? rng.int(200) : rng.int(1180);
  const kind = rng.int(3);
  const l4 = (echoType: number): L4 =>
    kind === 0
      ? tcp({
          srcPort: rng.int(65536),
          dstPort: rng.int(65536),
          seq: rng.u32(),
          ack: rng.u32(),
          flags: rng.int(256),
          payload: rng.bytes(size),
        })
      : kind === 1
        ? udp({ srcPort: rng.int(65536), dstPort: rng.int(65536), payload: rng.bytes(size) })
        : icmp({ type: echoType + rng.int(2), code: 0, rest: rng.u32(), body: rng.bytes(size) });
  const a = globalIpv4(rng);
  const b = globalIpv4(rng);
  if (family === 4) {
    // Echo request 8 / reply 0: pick by 8 - 8 * (0|1).
    const echo = l4(0);
    if (echo.kind === 'icmp') echo.bytes[0] = echo.bytes[0] === 0 ? 0 : 8;
    return ipv4({
      src: a,
      dst: b,
      tos: rng.int(256),
      id: rng.int(65536),
      df: rng.chance(0.5),
      ttl: 3 + rng.int(250),
      payload: echo,
    });
  }
  return ipv6({
    src: prefix + a,
    dst: prefix + b,
    trafficClass: rng.int(256),
    hopLimit: 3 + rng.int(250),
    payload: l4(128),
  });
}

/**
 * Translates `packet` in its own direction and the result back, and lists what changed that RFC 7915
 * does not allow to change: addresses, traffic class/TOS, protocol, lengths, the transport bytes
 * (checksum excepted: +0 and -0 may differ) and TTL/hop limit (exactly 2 lower after two hops).
 */
export function roundTrip(t: Translator, packet: Buffer): string[] {
  const there = new Uint8Array(packet.length + 2048);
  const back = new Uint8Array(packet.length + 2048);
  const v4 = packet[0] >> 4 === 4;
  const v1 = v4 ? t.v4ToV6(packet, there) : t.v6ToV4(packet, there);
  if (v1 !== Verdict.Translate || t.result.count !== 1)
    return [
      `first translation: verdict ${v1} reason ${dropReasonNames[t.result.reason]} count ${t.result.count}`,
    ];
  const mid = there.subarray(0, t.result.length);
  const problems = checkPacket(mid).map((p) => `first translation: ${p}`);
  const v2 = v4 ? t.v6ToV4(mid, back) : t.v4ToV6(mid, back);
  if (v2 !== Verdict.Translate || t.result.count !== 1)
    return [...problems, `second translation: verdict ${v2} reason ${dropReasonNames[t.result.reason]}`];
  const out = Buffer.from(back.subarray(0, t.result.length));
  problems.push(...checkPacket(out).map((p) => `second translation: ${p}`));
  if (out.length !== packet.length)
    return [...problems, `length ${packet.length} came back as ${out.length}`];
  const hl = v4 ? 20 : 40;
  const ck = packet[v4 ? 9 : 6] === 6 ? 16 : packet[v4 ? 9 : 6] === 17 ? 6 : 2;
  const same = (from: number, to: number, what: string) => {
    if (!packet.subarray(from, to).equals(out.subarray(from, to))) problems.push(`${what} changed`);
  };
  if (v4) {
    same(1, 4, 'TOS or total length');
    same(9, 10, 'protocol');
    same(12, 20, 'addresses');
    if (out[8] !== packet[8] - 2) problems.push(`TTL ${packet[8]} came back as ${out[8]}`);
  } else {
    if (packet.readUInt32BE(0) >>> 20 !== out.readUInt32BE(0) >>> 20) problems.push('traffic class changed');
    same(4, 7, 'payload length or next header');
    same(8, 40, 'addresses');
    if (out[7] !== packet[7] - 2) problems.push(`hop limit ${packet[7]} came back as ${out[7]}`);
  }
  same(hl, hl + ck, 'transport header before the checksum');
  same(hl + ck + 2, packet.length, 'transport bytes after the checksum');
  return problems;
}
