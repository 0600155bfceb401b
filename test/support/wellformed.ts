// Well-formedness checker for translated packets: IPv4 (RFC 791 lengths, options, header checksum),
// IPv6 (RFC 8200 lengths and extension chain), TCP/UDP/ICMPv4/ICMPv6 checksums with their
// pseudo-headers (RFC 9293, 768, 792, 4443), ICMP error payloads (a plausible inner header) and
// RFC 4884 extension lengths. It returns a list of problems (empty = well-formed) instead of
// throwing, so a fuzz run can print every problem of one packet. What cannot be checked in a
// fragment (an L4 checksum spread over several fragments) is skipped, never guessed.
import { finish, onesSum, pseudo4Sum, pseudo6Sum } from './build.js';

const ICMP4_ERRORS = new Set([3, 4, 5, 11, 12]);
/** ICMPv4 errors with an RFC 4884 length in byte 5. */
const ICMP4_LENGTH_TYPES = new Set([3, 11, 12]);
/** ICMPv6 errors with an RFC 4884 length in byte 4. */
const ICMP6_LENGTH_TYPES = new Set([1, 3]);

export interface CheckOptions {
  /** Allow TTL / hop limit 0 (for packets that are not about to be forwarded). Default false. */
  allowZeroTtl?: boolean;
}

/** Checks one whole IP packet of either family (chosen by the version nibble). */
export function checkPacket(packet: Uint8Array, options: CheckOptions = {}): string[] {
  if (packet.length < 1) return ['empty packet'];
  const v = packet[0] >> 4;
  if (v === 4) return checkIpv4(packet, options);
  if (v === 6) return checkIpv6(packet, options);
  return [`version nibble ${v} is neither 4 nor 6`];
}

export function checkIpv4(p: Uint8Array, options: CheckOptions = {}): string[] {
  const problems: string[] = [];
  if (p.length < 20) return [`IPv4: ${p.length} bytes, shorter than a header`];
  if (p[0] >> 4 !== 4) problems.push(`IPv4: version ${p[0] >> 4}`);
  const hl = (p[0] & 0x0f) * 4;
  if (hl < 20) return [...problems, `IPv4: IHL ${hl / 4} < 5`];
  if (hl > p.length) return [...problems, `IPv4: IHL ${hl / 4} runs past the ${p.length}-byte packet`];
  const total = (p[2] << 8) | p[3];
  if (total !== p.length) problems.push(`IPv4: total length ${total} != packet length ${p.length}`);
  if (total < hl) return [...problems, `IPv4: total length ${total} < header length ${hl}`];
  if (finish(onesSum(p, 0, hl)) !== 0) problems.push('IPv4: header checksum wrong');
  if (!options.allowZeroTtl && p[8] === 0) problems.push('IPv4: TTL 0');
  problems.push(...checkIpv4Options(p, hl));
  const flags = (p[6] << 8) | p[7];
  const mf = (flags & 0x2000) !== 0;
  const offset = (flags & 0x1fff) * 8;
  const end = Math.min(total, p.length);
  const l4 = p.subarray(hl, end);
  // A fragment's transport checksum spans other fragments: nothing more can be checked. (A fragmented
  // ICMP message is legal; a translator produces one when RFC 7915 4.1 fragments a DF-clear echo.)
  if (offset !== 0 || mf) return problems;
  const proto = p[9];
  if (proto === 6)
    problems.push(...checkTcp(l4, pseudo4Sum(p.subarray(12, 16), p.subarray(16, 20), 6, l4.length)));
  else if (proto === 17) {
    problems.push(...checkUdp(l4, pseudo4Sum(p.subarray(12, 16), p.subarray(16, 20), 17, l4.length), true));
  } else if (proto === 1) problems.push(...checkIcmp4(l4));
  else if (proto === 58) problems.push('IPv4: carries ICMPv6 (protocol 58)');
  return problems;
}

function checkIpv4Options(p: Uint8Array, hl: number): string[] {
  let i = 20;
  while (i < hl) {
    const t = p[i];
    if (t === 0) break;
    if (t === 1) {
      i++;
      continue;
    }
    if (i + 1 >= hl) return [`IPv4: option ${t} at ${i} has no length byte`];
    const len = p[i + 1];
    if (len < 2 || i + len > hl) return [`IPv4: option ${t} at ${i} has bad length ${len}`];
    i += len;
  }
  return [];
}

export function checkIpv6(p: Uint8Array, options: CheckOptions = {}): string[] {
  const problems: string[] = [];
  if (p.length < 40) return [`IPv6: ${p.length} bytes, shorter than a header`];
  if (p[0] >> 4 !== 6) problems.push(`IPv6: version ${p[0] >> 4}`);
  const plen = (p[4] << 8) | p[5];
  if (plen + 40 !== p.length) problems.push(`IPv6: payload length ${plen} + 40 != packet length ${p.length}`);
  if (!options.allowZeroTtl && p[7] === 0) problems.push('IPv6: hop limit 0');
  const end = Math.min(40 + plen, p.length);
  const chain = walkExtensions(p, 40, end, p[6]);
  if (chain.problem) return [...problems, `IPv6: ${chain.problem}`];
  if (chain.fragmented) return problems;
  const l4 = p.subarray(chain.offset, end);
  const src = p.subarray(8, 24);
  const dst = p.subarray(24, 40);
  if (chain.next === 6) problems.push(...checkTcp(l4, pseudo6Sum(src, dst, 6, l4.length)));
  else if (chain.next === 17) problems.push(...checkUdp(l4, pseudo6Sum(src, dst, 17, l4.length), false));
  else if (chain.next === 58) problems.push(...checkIcmp6(l4, pseudo6Sum(src, dst, 58, l4.length)));
  else if (chain.next === 1) problems.push('IPv6: carries ICMPv4 (next header 1)');
  return problems;
}

interface Chain {
  /** Offset of the upper-layer header. */
  offset: number;
  next: number;
  /** A Fragment Header that is not atomic (offset != 0 or M set). */
  fragmented: boolean;
  /** First-fragment flag: the Fragment Header had offset 0. */
  firstFragment: boolean;
  problem?: string;
}

/** Walks the RFC 8200 extension chain from `offset`; `truncatedOk` stops quietly at the buffer end. */
function walkExtensions(
  p: Uint8Array,
  start: number,
  end: number,
  first: number,
  truncatedOk = false,
): Chain {
  let off = start;
  let next = first;
  let fragmented = false;
  let firstFragment = true;
  let seen = 0;
  for (;;) {
    // AH (51) is left to the upper layer: its length is checked by nobody downstream of a translator,
    // and an IPv4 packet may legitimately carry AH as its protocol.
    if (next !== 0 && next !== 43 && next !== 60 && next !== 44) break;
    if (next === 0 && seen > 0)
      return { offset: off, next, fragmented, firstFragment, problem: 'hop-by-hop not first' };
    if (off + 8 > end) {
      if (truncatedOk) return { offset: end, next: 59, fragmented, firstFragment };
      return {
        offset: off,
        next,
        fragmented,
        firstFragment,
        problem: `extension header ${next} at ${off} truncated`,
      };
    }
    let len: number;
    if (next === 44) {
      len = 8;
      const fo = (p[off + 2] << 8) | p[off + 3];
      if ((fo & 0xfff8) !== 0 || (fo & 1) !== 0) fragmented = true;
      if ((fo & 0xfff8) !== 0) firstFragment = false;
    } else len = (p[off + 1] + 1) * 8;
    if (off + len > end) {
      if (truncatedOk) return { offset: end, next: 59, fragmented, firstFragment };
      return {
        offset: off,
        next,
        fragmented,
        firstFragment,
        problem: `extension header ${next} at ${off} runs past the end`,
      };
    }
    next = p[off];
    off += len;
    seen++;
    if (!firstFragment) break;
  }
  return { offset: off, next, fragmented, firstFragment };
}

function checkTcp(l4: Uint8Array, pseudo: number): string[] {
  if (l4.length < 20) return [`TCP: ${l4.length} bytes, shorter than a header`];
  const problems: string[] = [];
  const doff = (l4[12] >> 4) * 4;
  if (doff < 20 || doff > l4.length) problems.push(`TCP: data offset ${doff} out of range`);
  if (finish(onesSum(l4, 0, l4.length, pseudo)) !== 0) problems.push('TCP: checksum wrong');
  return problems;
}

function checkUdp(l4: Uint8Array, pseudo: number, zeroAllowed: boolean): string[] {
  if (l4.length < 8) return [`UDP: ${l4.length} bytes, shorter than a header`];
  const problems: string[] = [];
  const len = (l4[4] << 8) | l4[5];
  if (len !== l4.length) problems.push(`UDP: length field ${len} != ${l4.length}`);
  const ck = (l4[6] << 8) | l4[7];
  if (ck === 0) {
    if (!zeroAllowed) problems.push('UDP: zero checksum over IPv6');
  } else if (finish(onesSum(l4, 0, l4.length, pseudo)) !== 0) problems.push('UDP: checksum wrong');
  return problems;
}

function checkIcmp4(l4: Uint8Array): string[] {
  if (l4.length < 8) return [`ICMPv4: ${l4.length} bytes, shorter than a header`];
  const problems: string[] = [];
  if (finish(onesSum(l4)) !== 0) problems.push('ICMPv4: checksum wrong');
  const type = l4[0];
  if (ICMP4_ERRORS.has(type)) {
    let innerEnd = l4.length;
    if (ICMP4_LENGTH_TYPES.has(type) && l4[5] !== 0) {
      const words = l4[5];
      innerEnd = 8 + words * 4;
      if (words * 4 < 128) problems.push(`ICMPv4: RFC 4884 length ${words} words < 128 bytes`);
      if (innerEnd > l4.length) problems.push(`ICMPv4: RFC 4884 length ${words} words runs past the message`);
      else problems.push(...checkExtension(l4.subarray(innerEnd), 'ICMPv4'));
    }
    problems.push(...checkInner4(l4.subarray(8, Math.min(innerEnd, l4.length))));
  }
  return problems;
}

function checkIcmp6(l4: Uint8Array, pseudo: number): string[] {
  if (l4.length < 8) return [`ICMPv6: ${l4.length} bytes, shorter than a header`];
  const problems: string[] = [];
  if (finish(onesSum(l4, 0, l4.length, pseudo)) !== 0) problems.push('ICMPv6: checksum wrong');
  const type = l4[0];
  if (type < 128) {
    let innerEnd = l4.length;
    if (ICMP6_LENGTH_TYPES.has(type) && l4[4] !== 0) {
      const words = l4[4];
      innerEnd = 8 + words * 8;
      if (words * 8 < 128) problems.push(`ICMPv6: RFC 4884 length ${words} words < 128 bytes`);
      if (innerEnd > l4.length) problems.push(`ICMPv6: RFC 4884 length ${words} words runs past the message`);
      else problems.push(...checkExtension(l4.subarray(innerEnd), 'ICMPv6'));
    }
    problems.push(...checkInner6(l4.subarray(8, Math.min(innerEnd, l4.length))));
  }
  return problems;
}

/** RFC 4884 sec. 7: an extension structure starts with version 2 and has a valid checksum. */
function checkExtension(ext: Uint8Array, who: string): string[] {
  if (ext.length < 4) return [`${who}: RFC 4884 length set but no extension header follows`];
  const problems: string[] = [];
  if (ext[0] >> 4 !== 2) problems.push(`${who}: RFC 4884 extension version ${ext[0] >> 4}`);
  if (((ext[2] << 8) | ext[3]) !== 0 && finish(onesSum(ext)) !== 0) {
    problems.push(`${who}: RFC 4884 extension checksum wrong`);
  }
  return problems;
}

/** The packet in error inside an ICMPv4 error: a plausible IPv4 header, possibly truncated after it. */
function checkInner4(inner: Uint8Array): string[] {
  const problems: string[] = [];
  if (inner.length < 20)
    return [`ICMPv4 error: inner packet ${inner.length} bytes, shorter than an IPv4 header`];
  if (inner[0] >> 4 !== 4) return [`ICMPv4 error: inner version ${inner[0] >> 4}`];
  const hl = (inner[0] & 0x0f) * 4;
  if (hl < 20 || hl > inner.length) return [`ICMPv4 error: inner IHL ${hl / 4} bad or truncated`];
  const total = (inner[2] << 8) | inner[3];
  if (total < hl) problems.push(`ICMPv4 error: inner total length ${total} < header ${hl}`);
  if (finish(onesSum(inner, 0, hl)) !== 0) problems.push('ICMPv4 error: inner header checksum wrong');
  const offset = (((inner[6] << 8) | inner[7]) & 0x1fff) * 8;
  if (offset === 0 && inner[9] === 1 && inner.length > hl && ICMP4_ERRORS.has(inner[hl])) {
    problems.push('ICMPv4 error: contains another ICMPv4 error');
  }
  if (inner[9] === 58) problems.push('ICMPv4 error: inner IPv4 carries ICMPv6');
  return problems;
}

/** The packet in error inside an ICMPv6 error: a plausible IPv6 header, possibly truncated after it. */
function checkInner6(inner: Uint8Array): string[] {
  if (inner.length < 40)
    return [`ICMPv6 error: inner packet ${inner.length} bytes, shorter than an IPv6 header`];
  if (inner[0] >> 4 !== 6) return [`ICMPv6 error: inner version ${inner[0] >> 4}`];
  const problems: string[] = [];
  const chain = walkExtensions(inner, 40, inner.length, inner[6], true);
  if (chain.problem) problems.push(`ICMPv6 error: inner ${chain.problem}`);
  else if (
    chain.firstFragment &&
    chain.next === 58 &&
    chain.offset < inner.length &&
    inner[chain.offset] < 128
  ) {
    problems.push('ICMPv6 error: contains another ICMPv6 error');
  }
  if (chain.next === 1) problems.push('ICMPv6 error: inner IPv6 carries ICMPv4');
  return problems;
}
