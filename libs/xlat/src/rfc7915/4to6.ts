// RFC 7915 sec. 4: IPv4 -> IPv6. Sec. 4.1 header translation (traffic class, hop limit with Time
// Exceeded, options, the Fragment header, fragmentation to lowest-ipv6-mtu), sec. 4.2 ICMPv4 ->
// ICMPv6 (type/code, PTB MTU with RFC 1191 plateaus, pointers, RFC 4884 lengths), sec. 4.3 the
// packet inside ICMP errors, sec. 4.5 transport checksums. Addresses come from an AddressPlanner.
import {
  checksumAdjust,
  checksumFinish,
  copyBytes,
  findUnexpiredSourceRoute,
  isExtensionHeader,
  ParseStatus,
  parseIpv4,
  read16,
  sumWords,
  write16,
  write32,
} from '../../../packet/src/index.js';
import { DropReason, Verdict } from '../verdict.js';
import {
  type AddressPlanner,
  drop,
  plateauBelow,
  pointer4to6,
  single,
  writeAddress6,
  type XlatState,
} from './common.js';
import { replyIcmp4 } from './reply.js';

const R = DropReason;
const ICMP6_ERROR_MAX = 1280;

/** Scratch for the ICMP type/code/rest mapping (module-level: the packet path is single-threaded). */
let mappedType = 0;
let mappedCode = 0;
let mappedRest = 0;

/**
 * Maps an ICMPv4 error type/code to ICMPv6 (sec. 4.2) into mappedType/Code/Rest; false = drop.
 * The PTB MTU is filled in later, when the quoted packet is known.
 */
function mapIcmpError4to6(type: number, code: number, pointer: number): boolean {
  mappedRest = 0;
  if (type === 3) {
    switch (code) {
      case 0:
      case 1:
      case 5:
      case 6:
      case 7:
      case 8:
      case 11:
      case 12:
        mappedType = 1;
        mappedCode = 0;
        return true;
      case 2:
        // Protocol unreachable -> Parameter Problem "unrecognized Next Header", pointer at Next Header.
        mappedType = 4;
        mappedCode = 1;
        mappedRest = 6;
        return true;
      case 3:
        mappedType = 1;
        mappedCode = 4;
        return true;
      case 4:
        mappedType = 2;
        mappedCode = 0;
        return true;
      case 9:
      case 10:
      case 13:
      case 15:
        mappedType = 1;
        mappedCode = 1;
        return true;
      default:
        // 14 (host precedence violation) and unknown codes: silently drop.
        return false;
    }
  }
  if (type === 11) {
    mappedType = 3;
    mappedCode = code;
    return true;
  }
  if (type === 12 && (code === 0 || code === 2)) {
    if (pointer >= pointer4to6.length || pointer4to6[pointer] < 0) return false;
    mappedType = 4;
    mappedCode = 0;
    mappedRest = pointer4to6[pointer];
    return true;
  }
  return false;
}

/** Protocol numbers that only mean something as IPv6 extension headers (AH and ESP excepted). */
function isIpv6Only(protocol: number): boolean {
  return isExtensionHeader(protocol) && protocol !== 50 && protocol !== 51;
}

function isIllegalSource4(address: number): boolean {
  const first = address >>> 24;
  return first === 0 || first === 127 || first >= 224;
}

/** Writes the fixed IPv6 header at `out[offset]`. */
function writeIpv6Header(
  out: Uint8Array,
  offset: number,
  trafficClass: number,
  payloadLength: number,
  nextHeader: number,
  hopLimit: number,
  src: Uint8Array,
  dst: Uint8Array,
): void {
  out[offset] = 0x60 | (trafficClass >> 4);
  out[offset + 1] = (trafficClass & 0x0f) << 4;
  out[offset + 2] = 0;
  out[offset + 3] = 0;
  write16(out, offset + 4, payloadLength);
  out[offset + 6] = nextHeader;
  out[offset + 7] = hopLimit;
  writeAddress6(out, offset + 8, src);
  writeAddress6(out, offset + 24, dst);
}

function writeFragmentHeader(
  out: Uint8Array,
  offset: number,
  nextHeader: number,
  fragmentOffset: number,
  more: boolean,
  identification: number,
): void {
  out[offset] = nextHeader;
  out[offset + 1] = 0;
  write16(out, offset + 2, (fragmentOffset << 3) | (more ? 1 : 0));
  write32(out, offset + 4, identification);
}

/**
 * Rewrites the L4 header copied to `out[at, at + present)` from IPv4 to IPv6: ports/identifier from
 * the tuple and an incremental checksum for the pseudo-header change (sec. 4.5, RFC 1624).
 * `v4AddressSum` is the sum of the old IPv4 addresses, `v6Start` where the new IPv6 header is.
 * `ipPayloadLength` is the upper-layer length for the ICMPv6 pseudo-header. `present` may be short
 * (a quoted packet): fields past it are left alone. Returns 0 or a drop reason.
 */
function rewriteL4(
  state: XlatState,
  out: Uint8Array,
  at: number,
  present: number,
  protocol: number,
  v4AddressSum: number,
  v6Start: number,
  ipPayloadLength: number,
  srcPort: number,
  dstPort: number,
  icmpId: number,
  quoted: boolean,
): number {
  const v6AddressSum = sumWords(out, v6Start + 8, v6Start + 40, 0);
  if (protocol === 6 || protocol === 17) {
    if (present < 4) return 0;
    const oldSrc = read16(out, at);
    const oldDst = read16(out, at + 2);
    write16(out, at, srcPort);
    write16(out, at + 2, dstPort);
    const checkAt = protocol === 6 ? at + 16 : at + 6;
    if (checkAt + 2 > at + present) return 0;
    const check = read16(out, checkAt);
    if (protocol === 17 && check === 0) {
      if (quoted) return 0;
      if (!state.cfg.udpZeroChecksumCompute || state.outer4.isFragment) return R.udpzerochecksum46;
      // RFC 7915 sec. 4.5: compute the checksum the IPv4 sender left out (whole datagram present).
      let sum = v6AddressSum + ipPayloadLength + 17;
      sum = sumWords(out, at, at + ipPayloadLength, sum);
      const value = checksumFinish(sum);
      write16(out, checkAt, value === 0 ? 0xffff : value);
      return 0;
    }
    let updated = checksumAdjust(check, v4AddressSum + oldSrc + oldDst, v6AddressSum + srcPort + dstPort);
    if (protocol === 17 && updated === 0) updated = 0xffff;
    write16(out, checkAt, updated);
    return 0;
  }
  if (protocol === 1) {
    // ICMPv4 echo -> ICMPv6 echo (sec. 4.2): new type, identifier; the ICMPv6 checksum adds the
    // pseudo-header, which ICMPv4 lacks.
    if (present < 1) return 0;
    const oldType = out[at];
    const code = present > 1 ? out[at + 1] : 0;
    const newType = oldType === 8 ? 128 : 129;
    out[at] = newType;
    if (present < 4) return 0;
    let oldSum = (oldType << 8) | code;
    let newSum = (newType << 8) | code;
    if (present >= 6) {
      oldSum += read16(out, at + 4);
      newSum += icmpId;
      write16(out, at + 4, icmpId);
    }
    newSum += v6AddressSum + ipPayloadLength + 58;
    write16(out, at + 2, checksumAdjust(read16(out, at + 2), oldSum, newSum));
  }
  return 0;
}

/**
 * Translates the IPv4 packet `input[inStart, inStart + inLength)` into `output` from `outStart` on
 * (see contract.ts). `planner` decides the addresses; everything else is the same for the
 * stateless translator and the NAT64 lower layer. Offsets of parsed fields are absolute in `input`.
 */
export function translate4to6(
  state: XlatState,
  input: Uint8Array,
  inStart: number,
  inLength: number,
  output: Uint8Array,
  outStart: number,
  planner: AddressPlanner,
): Verdict {
  const result = state.result;
  const cfg = state.cfg;
  const v4 = state.outer4;
  const status = parseIpv4(input, inStart, inLength, v4, true);
  if (status !== ParseStatus.Ok) {
    return drop(
      result,
      status === ParseStatus.Truncated
        ? R.truncated46
        : status === ParseStatus.BadChecksum
          ? R.checksum46
          : R.header46,
    );
  }
  const protocol = v4.protocol;
  // ICMPv6 must not arrive inside IPv4 (it would mean a translation loop or a forgery); IGMP is
  // single-hop (sec. 4.2: "SHOULD be silently dropped"); IPv6 extension header numbers copied into
  // Next Header would make the IPv6 packet parse as a broken extension chain.
  if (protocol === 58 || protocol === 2 || isIpv6Only(protocol)) return drop(result, R.protocol46);
  const l4 = v4.payloadOffset;
  const end = inStart + v4.totalLength;
  const l4Length = end - l4;
  const fragmented = v4.isFragment;
  const first = v4.fragmentOffset === 0;
  const outer = state.outer;
  let icmpError = false;
  let icmpType = 0;
  let icmpCode = 0;
  let innerStart = 0;
  let originalEnd = end;
  let extensionLength = 0;

  outer.srcPort = 0;
  outer.dstPort = 0;
  if (protocol === 1 && fragmented) return drop(result, R.icmpfragment46);
  if (first) {
    if (protocol === 6 || protocol === 17) {
      if (l4Length < (protocol === 6 ? 20 : 8)) return drop(result, R.truncated46);
      outer.srcPort = read16(input, l4);
      outer.dstPort = read16(input, l4 + 2);
    } else if (protocol === 1) {
      if (l4Length < 8) return drop(result, R.truncated46);
      icmpType = input[l4];
      icmpCode = input[l4 + 1];
      if (icmpType === 8 || icmpType === 0) {
        outer.srcPort = read16(input, l4 + 4);
        outer.dstPort = outer.srcPort;
      } else if (icmpType === 3 || icmpType === 11 || icmpType === 12) {
        icmpError = true;
        if (!mapIcmpError4to6(icmpType, icmpCode, input[l4 + 4])) return drop(result, R.icmptype46);
        // The ICMPv6 checksum is recomputed over the translated message, so verify the old one first
        // rather than turn a corrupted message into a valid-looking one.
        if (checksumFinish(sumWords(input, l4, end, 0)) !== 0) return drop(result, R.icmpchecksum46);
        innerStart = l4 + 8;
        // RFC 4884: a length attribute splits the original datagram from an extension structure. A
        // length below 128 bytes is non-compliant (sec. 5) but still says where the extension is;
        // the translated datagram is padded to 128 (translateIcmpError46), as sec. 5 requires.
        const words = input[l4 + 5];
        if (words !== 0 && mappedType !== 2 && mappedType !== 4 && innerStart + words * 4 < end) {
          originalEnd = innerStart + words * 4;
          extensionLength = end - originalEnd;
        }
        const inner = state.inner4;
        if (parseIpv4(input, innerStart, originalEnd - innerStart, inner, false) !== ParseStatus.Ok) {
          return drop(result, R.icmpinner46);
        }
        // A length attribute that does not even cover the quoted header and 8 bytes of its payload
        // (RFC 792's minimum) is not believed: the message is read as if it had none.
        if (
          extensionLength > 0 &&
          inner.fragmentOffset === 0 &&
          inner.start + inner.available - inner.payloadOffset < 8
        ) {
          originalEnd = end;
          extensionLength = 0;
          if (parseIpv4(input, innerStart, end - innerStart, inner, false) !== ParseStatus.Ok)
            return drop(result, R.icmpinner46);
        }
        const innerProtocol = inner.protocol;
        if (innerProtocol === 58 || isIpv6Only(innerProtocol)) return drop(result, R.icmpinner46);
        const innerL4 = inner.payloadOffset;
        const innerPresent = inner.start + inner.available - innerL4;
        state.inner.srcPort = 0;
        state.inner.dstPort = 0;
        if (inner.fragmentOffset === 0) {
          if ((innerProtocol === 6 || innerProtocol === 17) && innerPresent >= 4) {
            state.inner.srcPort = read16(input, innerL4);
            state.inner.dstPort = read16(input, innerL4 + 2);
          } else if (innerProtocol === 1 && innerPresent >= 1) {
            const t = input[innerL4];
            // Only a query can be quoted; an ICMP error about an ICMP error must not exist.
            if (t !== 8 && t !== 0) return drop(result, R.icmpinner46);
            if (innerPresent >= 6) {
              state.inner.srcPort = read16(input, innerL4 + 4);
              state.inner.dstPort = state.inner.srcPort;
            }
          }
        }
      } else {
        // Sec. 4.2: information request/reply, timestamp, address mask, router advertisement and
        // solicitation, redirect, source quench and unknown types are silently dropped.
        return drop(result, R.icmptype46);
      }
    }
  }

  // Sec. 4.1: an illegal source (RFC 1812 sec. 5.3.7: this network, loopback, multicast, class E,
  // broadcast) is silently dropped, except that ICMPv4 errors are translated for troubleshooting.
  if (!icmpError && isIllegalSource4(v4.src)) return drop(result, R.srcaddr46);
  const reason = planner.plan46(state, input, inStart, icmpError);
  if (reason !== 0) {
    // Sec. 4.4: a translator SHOULD be able to answer a packet it cannot translate with
    // Communication Administratively Prohibited (3/13); never about an ICMP error.
    if (cfg.icmpErrorsForUntranslatable && !icmpError && (reason === R.srcaddr46 || reason === R.dstaddr46)) {
      return replyIcmp4(state, input, output, outStart, 3, 13, 0, reason);
    }
    return drop(result, reason);
  }

  // Sec. 4.1 Hop Limit: the translator is a router; TTL 1 cannot be forwarded.
  if (v4.ttl <= 1) {
    if (icmpError) return drop(result, R.ttl46);
    return replyIcmp4(state, input, output, outStart, 11, 0, 0, R.ttl46);
  }
  // Sec. 4.1: an unexpired source route cannot be honoured across the translation.
  if (v4.headerLength > 20 && findUnexpiredSourceRoute(input, v4) >= 0) {
    if (icmpError) return drop(result, R.sourceroute46);
    return replyIcmp4(state, input, output, outStart, 3, 5, 0, R.sourceroute46);
  }

  if (icmpError) return translateIcmpError46(state, input, output, outStart, originalEnd, extensionLength);

  const headerLength = fragmented ? 48 : 40;
  const size = headerLength + l4Length;
  if (v4.dontFragment && size > cfg.mtu6) {
    if (!first) return drop(result, R.fragneeded46);
    return replyIcmp4(state, input, output, outStart, 3, 4, cfg.mtu6 - headerLength + 20, R.fragneeded46);
  }
  const needsSplit = !v4.dontFragment && size > cfg.lowestIpv6Mtu;
  const withFragmentHeader = fragmented || needsSplit;
  const outHeader = withFragmentHeader ? 48 : 40;
  const room = output.length - outStart;
  if (outHeader + l4Length > room) return drop(result, R.buffer46);
  // Every drop is decided before the first output byte is written: a dropped packet leaves the
  // output as it was (the batch loop writes packets back to back into one buffer).
  const chunk = ((cfg.lowestIpv6Mtu - 48) >> 3) << 3;
  const fragments = needsSplit ? Math.ceil(l4Length / chunk) : 1;
  if (needsSplit && (fragments * 48 + l4Length > room || fragments > result.lengths.length)) {
    return drop(result, R.buffer46);
  }
  if (
    first &&
    protocol === 17 &&
    read16(input, l4 + 6) === 0 &&
    (!cfg.udpZeroChecksumCompute || fragmented)
  ) {
    return drop(result, R.udpzerochecksum46);
  }

  return writeTranslated46(state, input, inStart, output, outStart, outHeader, needsSplit, chunk, fragments);
}

/**
 * The writing half of translate4to6, once every drop is decided: the payload, the IPv6 header (and
 * Fragment header), the rewritten L4 header, then the split into fragments. Kept apart so the
 * deciding half stays small enough for V8 to inline the address planner into it (measured: ~35 ns
 * per packet).
 */
function writeTranslated46(
  state: XlatState,
  input: Uint8Array,
  inStart: number,
  output: Uint8Array,
  outStart: number,
  outHeader: number,
  needsSplit: boolean,
  chunk: number,
  fragments: number,
): Verdict {
  const result = state.result;
  const cfg = state.cfg;
  const v4 = state.outer4;
  const outer = state.outer;
  const protocol = v4.protocol;
  const nextHeader = protocol === 1 ? 58 : protocol;
  const l4 = v4.payloadOffset;
  const l4Length = inStart + v4.totalLength - l4;
  const withFragmentHeader = outHeader === 48;
  const first = v4.fragmentOffset === 0;
  copyBytes(input, l4, output, outStart + outHeader, l4Length);
  writeIpv6Header(
    output,
    outStart,
    cfg.ignoreTrafficClass ? 0 : v4.tos,
    outHeader - 40 + l4Length,
    withFragmentHeader ? 44 : nextHeader,
    v4.ttl - 1,
    outer.src6,
    outer.dst6,
  );
  if (withFragmentHeader) {
    writeFragmentHeader(
      output,
      outStart + 40,
      nextHeader,
      v4.fragmentOffset,
      v4.moreFragments,
      v4.identification,
    );
  }
  if (first) {
    const r = rewriteL4(
      state,
      output,
      outStart + outHeader,
      l4Length,
      protocol,
      sumWords(input, inStart + 12, inStart + 20, 0),
      outStart,
      l4Length,
      outer.srcPort,
      outer.dstPort,
      outer.dstPort,
      false,
    );
    // Cannot happen: the one drop rewriteL4 returns for an outer packet was decided above.
    if (r !== 0) return drop(result, r);
  }
  if (!needsSplit) return single(result, outHeader + l4Length, Verdict.Translate, 0);
  return split46(state, output, outStart, l4Length, chunk, fragments);
}

/**
 * Sec. 4 / 4.1: an IPv4 packet without DF that would exceed lowest-ipv6-mtu is sent as IPv6
 * fragments. The packet is already written whole from `outStart` (headers + rewritten L4, Fragment
 * header included); fragments 1..n-1 are moved into place from the last one back, so no data is
 * overwritten before it has moved (each fragment only moves right), all within the output buffer.
 * The caller has checked that `count` fragments fit.
 */
function split46(
  state: XlatState,
  output: Uint8Array,
  outStart: number,
  l4Length: number,
  chunk: number,
  count: number,
): Verdict {
  const result = state.result;
  const v4 = state.outer4;
  const data = outStart + 48;
  for (let k = count - 1; k >= 0; k--) {
    const dataLength = k === count - 1 ? l4Length - k * chunk : chunk;
    const more = k < count - 1 || v4.moreFragments;
    const position = outStart + k * (48 + chunk);
    if (k > 0) {
      output.copyWithin(position + 48, data + k * chunk, data + k * chunk + dataLength);
      // Same IPv6 and Fragment header as fragment 0 (next header, identification), new lengths.
      output.copyWithin(position, outStart, data);
    }
    write16(output, position + 4, 8 + dataLength);
    write16(output, position + 42, ((v4.fragmentOffset + ((k * chunk) >> 3)) << 3) | (more ? 1 : 0));
    result.lengths[k] = 48 + dataLength;
  }
  result.reason = 0;
  result.count = count;
  result.length = count * 48 + l4Length;
  return Verdict.Translate;
}

/**
 * Sec. 4.2/4.3: an ICMPv4 error. The quoted IPv4 packet becomes an IPv6 packet (addresses from
 * `state.inner`, TTL unchanged, Fragment header if it was a fragment), the whole message is cut to
 * 1280 bytes, an RFC 4884 extension keeps its place behind a padded original datagram.
 */
function translateIcmpError46(
  state: XlatState,
  input: Uint8Array,
  output: Uint8Array,
  o: number,
  originalEnd: number,
  extensionLength: number,
): Verdict {
  const v4 = state.outer4;
  const cfg = state.cfg;
  const inner = state.inner4;
  const tuple = state.inner;
  const l4 = v4.payloadOffset;
  const innerFragmented = inner.isFragment;
  const innerHeader = innerFragmented ? 48 : 40;
  const innerL4 = inner.payloadOffset;
  const innerL4Present = inner.start + inner.available - innerL4;
  const innerProtocol = inner.protocol;
  const innerNextHeader = innerProtocol === 1 ? 58 : innerProtocol;
  let translated = innerHeader + innerL4Present;
  let extension = extensionLength;
  let padded = 0;
  if (extension > 0) {
    const room = ((ICMP6_ERROR_MAX - 48 - extension) >> 3) << 3;
    if (room < 128) {
      extension = 0;
    } else {
      if (translated > room) translated = room;
      padded = Math.max(128, (translated + 7) & ~7);
    }
  }
  if (extension === 0) {
    if (translated > ICMP6_ERROR_MAX - 48) translated = ICMP6_ERROR_MAX - 48;
    padded = translated;
  }
  const total = 48 + padded + extension;
  const copied = translated - innerHeader;
  if (copied > 0) copyBytes(input, innerL4, output, o + 48 + innerHeader, copied);

  // Outer IPv6 header and ICMPv6 header (`o` is where the output packet starts).
  writeIpv6Header(
    output,
    o,
    cfg.ignoreTrafficClass ? 0 : v4.tos,
    total - 40,
    58,
    v4.ttl - 1,
    state.outer.src6,
    state.outer.dst6,
  );
  output[o + 40] = mappedType;
  output[o + 41] = mappedCode;
  write16(output, o + 42, 0);
  if (mappedType === 2) {
    // Packet Too Big: sec. 4.2 MTU = min(advertised + 20, IPv6 next-hop MTU, IPv4 MTU + 20), a
    // plateau when the router said 0 (RFC 1191), never below the IPv6 minimum 1280.
    let advertised = read16(input, l4 + 6);
    if (advertised === 0) advertised = plateauBelow(inner.totalLength);
    let mtu = Math.min(advertised + 20, cfg.mtu6, cfg.mtu4 + 20);
    if (mtu < 1280) mtu = 1280;
    write32(output, o + 44, mtu);
  } else if (mappedType === 4) {
    write32(output, o + 44, mappedRest);
  } else {
    write32(output, o + 44, 0);
    if (extension > 0) output[o + 44] = padded >> 3;
  }

  // The quoted packet.
  const at = o + 48;
  writeIpv6Header(
    output,
    at,
    cfg.ignoreTrafficClass ? 0 : inner.tos,
    inner.totalLength - inner.headerLength + (innerFragmented ? 8 : 0),
    innerFragmented ? 44 : innerNextHeader,
    inner.ttl,
    tuple.src6,
    tuple.dst6,
  );
  if (innerFragmented) {
    writeFragmentHeader(
      output,
      at + 40,
      innerNextHeader,
      inner.fragmentOffset,
      inner.moreFragments,
      inner.identification,
    );
  }
  if (inner.fragmentOffset === 0 && copied > 0) {
    rewriteL4(
      state,
      output,
      at + innerHeader,
      copied,
      innerProtocol,
      sumWords(input, inner.start + 12, inner.start + 20, 0),
      at,
      inner.totalLength - inner.headerLength,
      tuple.srcPort,
      tuple.dstPort,
      tuple.srcPort,
      true,
    );
  }
  for (let i = at + translated; i < at + padded; i++) output[i] = 0;
  if (extension > 0) copyBytes(input, originalEnd, output, at + padded, extension);

  let sum = sumWords(output, o + 8, o + 40, 0) + (total - 40) + 58;
  sum = sumWords(output, o + 40, o + total, sum);
  write16(output, o + 42, checksumFinish(sum));
  return single(state.result, total, Verdict.Translate, 0);
}
