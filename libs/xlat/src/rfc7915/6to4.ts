// RFC 7915 sec. 5: IPv6 -> IPv4. Sec. 5.1 header translation (extension headers skipped, routing
// header with segments left answered by Parameter Problem, hop limit with Time Exceeded, DF by the
// 1260-byte rule), sec. 5.1.1 the Fragment header, sec. 5.2 ICMPv6 -> ICMPv4, sec. 5.3 the packet
// inside ICMP errors, sec. 5.5 transport checksums. Addresses come from an AddressPlanner.
import {
  checksum,
  checksumAdjust,
  checksumFinish,
  copyBytes,
  ipv4HeaderChecksum,
  isExtensionHeader,
  ParseStatus,
  parseIpv6,
  read16,
  read32,
  sumWords,
  write16,
  writeAddress4,
} from '../../../packet/src/index.js';
import { DropReason, Verdict } from '../verdict.js';
import { type AddressPlanner, drop, pointer6to4, single, sumAddress4, type XlatState } from './common.js';
import { replyIcmp6 } from './reply.js';

const R = DropReason;
const ICMP4_ERROR_MAX = 576;
/** Sec. 5.1 Flags: a translated packet above 1260 bytes gets DF, so PMTUD keeps working. */
const DF_THRESHOLD = 1260;

let mappedType = 0;
let mappedCode = 0;
let mappedRest = 0;

/** Maps an ICMPv6 error to ICMPv4 (sec. 5.2); false = silently drop. MTU is filled in later. */
function mapIcmpError6to4(type: number, code: number, pointer: number): boolean {
  mappedRest = 0;
  if (type === 1) {
    mappedType = 3;
    switch (code) {
      case 0:
      case 2:
      case 3:
        mappedCode = 1;
        return true;
      case 1:
        mappedCode = 10;
        return true;
      case 4:
        mappedCode = 3;
        return true;
      default:
        return false;
    }
  }
  if (type === 2) {
    mappedType = 3;
    mappedCode = 4;
    return true;
  }
  if (type === 3) {
    mappedType = 11;
    mappedCode = code;
    return true;
  }
  if (type === 4) {
    if (code === 0) {
      const p = pointer > 0xffff ? -1 : pointer6to4(pointer);
      if (p < 0) return false;
      mappedType = 12;
      mappedCode = 0;
      mappedRest = p << 24;
      return true;
    }
    if (code === 1) {
      // Unrecognized Next Header -> Protocol Unreachable.
      mappedType = 3;
      mappedCode = 2;
      return true;
    }
  }
  return false;
}

/** Sec. 5.1 "Identification: Set according to a Fragment Identification generator" (or 0 by config). */
function nextIdentification(state: XlatState): number {
  if (!state.cfg.generateIdentification) return 0;
  const identification = state.nextIdentification;
  state.nextIdentification = (identification + 1) & 0xffff;
  return identification;
}

/** The source address of the IPv6 header at `input[start]` is multicast, unspecified or loopback. */
function isIllegalSource6(input: Uint8Array, start: number): boolean {
  if (input[start + 8] === 0xff) return true;
  for (let i = start + 8; i < start + 23; i++) if (input[i] !== 0) return false;
  return input[start + 23] <= 1;
}

function writeIpv4Header(
  out: Uint8Array,
  offset: number,
  tos: number,
  totalLength: number,
  identification: number,
  flags: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  out[offset] = 0x45;
  out[offset + 1] = tos;
  write16(out, offset + 2, totalLength);
  write16(out, offset + 4, identification);
  write16(out, offset + 6, flags);
  out[offset + 8] = ttl;
  out[offset + 9] = protocol;
  write16(out, offset + 10, 0);
  writeAddress4(out, offset + 12, src);
  writeAddress4(out, offset + 16, dst);
  write16(out, offset + 10, ipv4HeaderChecksum(out, offset, 20));
}

/**
 * Rewrites the L4 header copied to `out[at, at + present)` from IPv6 to IPv4 (sec. 5.5): ports or
 * identifier from the tuple, the checksum adjusted for the pseudo-header change (RFC 1624), ICMPv6
 * echo to ICMPv4 echo (the ICMPv4 checksum drops the pseudo-header). `v6AddressSum` is the sum of the
 * old IPv6 addresses, `upperLength` the ICMPv6 pseudo-header length.
 */
function rewriteL4(
  out: Uint8Array,
  at: number,
  present: number,
  protocol: number,
  v6AddressSum: number,
  src4: number,
  dst4: number,
  upperLength: number,
  srcPort: number,
  dstPort: number,
  icmpId: number,
): void {
  if (protocol === 6 || protocol === 17) {
    if (present < 4) return;
    const oldSrc = read16(out, at);
    const oldDst = read16(out, at + 2);
    write16(out, at, srcPort);
    write16(out, at + 2, dstPort);
    const checkAt = protocol === 6 ? at + 16 : at + 6;
    if (checkAt + 2 > at + present) return;
    const check = read16(out, checkAt);
    // IPv4 UDP may carry no checksum (0); keep it rather than invent one for a broken IPv6 packet.
    if (protocol === 17 && check === 0) return;
    let updated = checksumAdjust(
      check,
      v6AddressSum + oldSrc + oldDst,
      sumAddress4(src4) + sumAddress4(dst4) + srcPort + dstPort,
    );
    if (protocol === 17 && updated === 0) updated = 0xffff;
    write16(out, checkAt, updated);
    return;
  }
  if (protocol === 58) {
    if (present < 1) return;
    const oldType = out[at];
    const code = present > 1 ? out[at + 1] : 0;
    const newType = oldType === 128 ? 8 : 0;
    out[at] = newType;
    if (present < 4) return;
    let oldSum = ((oldType << 8) | code) + v6AddressSum + upperLength + 58;
    let newSum = (newType << 8) | code;
    if (present >= 6) {
      oldSum += read16(out, at + 4);
      newSum += icmpId;
      write16(out, at + 4, icmpId);
    }
    write16(out, at + 2, checksumAdjust(read16(out, at + 2), oldSum, newSum));
  }
}

/**
 * Translates the IPv6 packet `input[inStart, inStart + inLength)` into `output` from `outStart` on
 * (see contract.ts); `planner` decides the addresses. Offsets of parsed fields are absolute.
 */
export function translate6to4(
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
  const v6 = state.outer6;
  const status = parseIpv6(input, inStart, inLength, v6, true);
  if (status !== ParseStatus.Ok)
    return drop(result, status === ParseStatus.Truncated ? R.truncated64 : R.header64);
  const protocol = v6.protocol;
  // ICMPv4 must not arrive inside IPv6.
  if (protocol === 1) return drop(result, R.protocol64);
  // Sec. 5.1.1: an extension header (other than ESP) behind the Fragment header: "SHOULD be dropped".
  if (v6.fragmentHeaderOffset >= 0) {
    const afterFragment = input[v6.fragmentHeaderOffset];
    if (afterFragment !== 50 && isExtensionHeader(afterFragment)) return drop(result, R.header64);
  }
  const l4 = v6.payloadOffset;
  const end = inStart + 40 + v6.payloadLength;
  const l4Length = end - l4;
  const fragmented = v6.isFragment;
  const first = v6.fragmentOffset === 0;
  const outer = state.outer;
  let icmpError = false;
  let originalEnd = end;
  let extensionLength = 0;

  outer.srcPort = 0;
  outer.dstPort = 0;
  if (protocol === 58 && fragmented) return drop(result, R.icmpfragment64);
  if (first) {
    if (protocol === 6 || protocol === 17) {
      if (l4Length < (protocol === 6 ? 20 : 8)) return drop(result, R.truncated64);
      outer.srcPort = read16(input, l4);
      outer.dstPort = read16(input, l4 + 2);
    } else if (protocol === 58) {
      if (l4Length < 8) return drop(result, R.truncated64);
      const type = input[l4];
      if (type === 128 || type === 129) {
        outer.srcPort = read16(input, l4 + 4);
        outer.dstPort = outer.srcPort;
      } else if (type >= 1 && type <= 4) {
        icmpError = true;
        if (!mapIcmpError6to4(type, input[l4 + 1], read32(input, l4 + 4))) return drop(result, R.icmptype64);
        let sum = sumWords(input, inStart + 8, inStart + 40, 0) + l4Length + 58;
        sum = sumWords(input, l4, end, sum);
        if (checksumFinish(sum) !== 0) return drop(result, R.checksum64);
        const innerStart = l4 + 8;
        // RFC 4884: Destination Unreachable and Time Exceeded may carry a length attribute. A length
        // below 128 bytes is non-compliant (sec. 5) but still says where the extension starts; the
        // translated datagram is padded to 128 (translateIcmpError64), as sec. 5 requires.
        const words = input[l4 + 4];
        if ((type === 1 || type === 3) && words !== 0 && innerStart + words * 8 < end) {
          originalEnd = innerStart + words * 8;
          extensionLength = end - originalEnd;
        }
        const inner = state.inner6;
        if (parseIpv6(input, innerStart, originalEnd - innerStart, inner, false) !== ParseStatus.Ok) {
          return drop(result, R.icmpinner64);
        }
        // A length attribute that does not cover the quoted headers and 8 bytes of payload is not
        // believed: the message is read as if it had none (as in 4to6.ts).
        if (
          extensionLength > 0 &&
          inner.fragmentOffset === 0 &&
          inner.start + inner.available - inner.payloadOffset < 8
        ) {
          originalEnd = end;
          extensionLength = 0;
          if (parseIpv6(input, innerStart, end - innerStart, inner, false) !== ParseStatus.Ok)
            return drop(result, R.icmpinner64);
        }
        const innerProtocol = inner.protocol;
        if (innerProtocol === 1) return drop(result, R.icmpinner64);
        const innerL4 = inner.payloadOffset;
        const innerPresent = inner.start + inner.available - innerL4;
        state.inner.srcPort = 0;
        state.inner.dstPort = 0;
        if (inner.fragmentOffset === 0) {
          if ((innerProtocol === 6 || innerProtocol === 17) && innerPresent >= 4) {
            state.inner.srcPort = read16(input, innerL4);
            state.inner.dstPort = read16(input, innerL4 + 2);
          } else if (innerProtocol === 58 && innerPresent >= 1) {
            const t = input[innerL4];
            if (t !== 128 && t !== 129) return drop(result, R.icmpinner64);
            if (innerPresent >= 6) {
              state.inner.srcPort = read16(input, innerL4 + 4);
              state.inner.dstPort = state.inner.srcPort;
            }
          }
        }
      } else {
        // Sec. 5.2: MLD, Neighbor Discovery, other informational and unknown types: silently drop.
        return drop(result, R.icmptype64);
      }
    }
  }

  // Sec. 5.1: an illegal source (unspecified, loopback, multicast) is silently dropped.
  if (!icmpError && isIllegalSource6(input, inStart)) return drop(result, R.srcaddr64);
  const reason = planner.plan64(state, input, inStart, icmpError);
  if (reason !== 0) {
    // Sec. 5.4: the ICMPv6 counterpart, Destination Unreachable code 1 (administratively prohibited).
    if (cfg.icmpErrorsForUntranslatable && !icmpError && (reason === R.srcaddr64 || reason === R.dstaddr64)) {
      return replyIcmp6(state, input, output, outStart, 1, 1, 0, reason);
    }
    return drop(result, reason);
  }

  if (v6.hopLimit <= 1) {
    if (icmpError) return drop(result, R.hoplimit64);
    return replyIcmp6(state, input, output, outStart, 3, 0, 0, R.hoplimit64);
  }
  // Sec. 5.1: a routing header with segments left cannot be followed into IPv4.
  if (v6.segmentsLeftOffset >= 0) {
    if (icmpError) return drop(result, R.routingheader64);
    // The pointer counts from the start of the offending packet.
    const pointer = v6.segmentsLeftOffset - inStart;
    return replyIcmp6(state, input, output, outStart, 4, 0, pointer, R.routingheader64);
  }

  const protocol4 = protocol === 58 ? 1 : protocol;
  if (icmpError) return translateIcmpError64(state, input, output, outStart, originalEnd, extensionLength);

  const size = 20 + l4Length;
  const hasFragmentHeader = v6.hasFragmentHeader;
  // Sec. 5.1.1: with a Fragment header the IPv4 packet may be fragmented further (DF = 0).
  const dontFragment = !hasFragmentHeader && size > DF_THRESHOLD;
  if (size > cfg.mtu4 && dontFragment) {
    // Sec. 5.1 / 5.4: Packet Too Big with the IPv4 MTU plus the header difference, at least 1280.
    return replyIcmp6(state, input, output, outStart, 2, 0, Math.max(1280, cfg.mtu4 + 20), R.toobig64);
  }
  const room = output.length - outStart;
  if (size > room) return drop(result, R.buffer64);
  // Every drop is decided before the first output byte is written (see 4to6.ts).
  const chunk = ((cfg.mtu4 - 20) >> 3) << 3;
  const fragments = size > cfg.mtu4 ? Math.ceil(l4Length / chunk) : 1;
  if (fragments > 1 && (fragments * 20 + l4Length > room || fragments > result.lengths.length)) {
    return drop(result, R.buffer64);
  }
  let identification: number;
  let flags: number;
  if (hasFragmentHeader) {
    identification = v6.identification & 0xffff;
    flags = (v6.moreFragments ? 0x2000 : 0) | v6.fragmentOffset;
  } else if (dontFragment) {
    // RFC 6864 sec. 4.1: an atomic datagram's ID has no meaning; 0 keeps translation deterministic.
    identification = 0;
    flags = 0x4000;
  } else {
    identification = nextIdentification(state);
    flags = 0;
  }
  copyBytes(input, l4, output, outStart + 20, l4Length);
  if (first) {
    rewriteL4(
      output,
      outStart + 20,
      l4Length,
      protocol,
      sumWords(input, inStart + 8, inStart + 40, 0),
      outer.src4,
      outer.dst4,
      l4Length,
      outer.srcPort,
      outer.dstPort,
      outer.srcPort,
    );
  }
  writeIpv4Header(
    output,
    outStart,
    cfg.ignoreTrafficClass ? 0 : v6.trafficClass,
    size,
    identification,
    flags,
    v6.hopLimit - 1,
    protocol4,
    outer.src4,
    outer.dst4,
  );
  if (size <= cfg.mtu4) return single(result, size, Verdict.Translate, 0);
  return split64(state, output, outStart, l4Length, chunk, fragments);
}

/**
 * IPv4 may be fragmented on the way (DF = 0): fragments of at most mtu4 (RFC 791 sec. 3.2). The
 * packet is already written whole from `outStart`; fragments move into place from the last one back
 * (see split46). The caller has checked that `count` fragments fit.
 */
function split64(
  state: XlatState,
  output: Uint8Array,
  outStart: number,
  l4Length: number,
  chunk: number,
  count: number,
): Verdict {
  const result = state.result;
  const data = outStart + 20;
  const flags0 = read16(output, outStart + 6);
  const baseOffset = flags0 & 0x1fff;
  const lastMore = (flags0 & 0x2000) !== 0;
  for (let k = count - 1; k >= 0; k--) {
    const dataLength = k === count - 1 ? l4Length - k * chunk : chunk;
    const more = k < count - 1 || lastMore;
    const position = outStart + k * (20 + chunk);
    if (k > 0) {
      output.copyWithin(position + 20, data + k * chunk, data + k * chunk + dataLength);
      output.copyWithin(position, outStart, data);
    }
    write16(output, position + 2, 20 + dataLength);
    write16(output, position + 6, (more ? 0x2000 : 0) | (baseOffset + ((k * chunk) >> 3)));
    write16(output, position + 10, 0);
    write16(output, position + 10, ipv4HeaderChecksum(output, position, 20));
    result.lengths[k] = 20 + dataLength;
  }
  result.reason = 0;
  result.count = count;
  result.length = count * 20 + l4Length;
  return Verdict.Translate;
}

/**
 * Sec. 5.2/5.3: an ICMPv6 error. The quoted IPv6 packet becomes IPv4 (addresses from
 * `state.inner`, hop limit unchanged, extension headers dropped, Fragment header to IPv4 fragment
 * fields), the message is cut to 576 bytes, an RFC 4884 extension keeps its place behind a padded
 * original datagram.
 */
function translateIcmpError64(
  state: XlatState,
  input: Uint8Array,
  output: Uint8Array,
  o: number,
  originalEnd: number,
  extensionLength: number,
): Verdict {
  const v6 = state.outer6;
  const cfg = state.cfg;
  const inner = state.inner6;
  const tuple = state.inner;
  const l4 = v6.payloadOffset;
  const innerL4 = inner.payloadOffset;
  const innerL4Present = inner.start + inner.available - innerL4;
  const innerProtocol = inner.protocol;
  let translated = 20 + innerL4Present;
  let extension = extensionLength;
  let padded = 0;
  if (extension > 0) {
    const room = ((ICMP4_ERROR_MAX - 28 - extension) >> 2) << 2;
    if (room < 128) {
      extension = 0;
    } else {
      if (translated > room) translated = room;
      padded = Math.max(128, (translated + 3) & ~3);
    }
  }
  if (extension === 0) {
    if (translated > ICMP4_ERROR_MAX - 28) translated = ICMP4_ERROR_MAX - 28;
    padded = translated;
  }
  const total = 28 + padded + extension;
  const copied = translated - 20;
  // `o` is where the output packet starts.
  if (copied > 0) copyBytes(input, innerL4, output, o + 48, copied);

  output[o + 20] = mappedType;
  output[o + 21] = mappedCode;
  write16(output, o + 22, 0);
  if (mappedType === 3 && mappedCode === 4) {
    // Sec. 5.2 Packet Too Big: min(MTU - 20, IPv4 MTU, IPv6 MTU - 20); 8 more when the quoted packet
    // had a Fragment header, which the IPv4 packets would not carry.
    let mtu = read32(input, l4 + 4) - 20 - (inner.hasFragmentHeader ? 8 : 0);
    mtu = Math.min(mtu, cfg.mtu4, cfg.mtu6 - 20, 0xffff);
    if (mtu < 68) mtu = 68;
    write16(output, o + 24, 0);
    write16(output, o + 26, mtu);
  } else {
    output[o + 24] = mappedRest >>> 24;
    output[o + 25] = 0;
    output[o + 26] = 0;
    output[o + 27] = 0;
    if (extension > 0) output[o + 25] = padded >> 2;
  }

  // The quoted packet.
  const innerTotal = 20 + inner.payloadLength - inner.extensionLength;
  let innerId = 0;
  let innerFlags = 0;
  if (inner.hasFragmentHeader) {
    innerId = inner.identification & 0xffff;
    innerFlags = (inner.moreFragments ? 0x2000 : 0) | inner.fragmentOffset;
  } else if (innerTotal > DF_THRESHOLD) {
    innerFlags = 0x4000;
  }
  writeIpv4Header(
    output,
    o + 28,
    cfg.ignoreTrafficClass ? 0 : inner.trafficClass,
    innerTotal,
    innerId,
    innerFlags,
    inner.hopLimit,
    innerProtocol === 58 ? 1 : innerProtocol,
    tuple.src4,
    tuple.dst4,
  );
  if (inner.fragmentOffset === 0 && copied > 0) {
    rewriteL4(
      output,
      o + 48,
      copied,
      innerProtocol,
      sumWords(input, inner.start + 8, inner.start + 40, 0),
      tuple.src4,
      tuple.dst4,
      inner.payloadLength - inner.extensionLength,
      tuple.srcPort,
      tuple.dstPort,
      tuple.dstPort,
    );
  }
  for (let i = o + 28 + translated; i < o + 28 + padded; i++) output[i] = 0;
  if (extension > 0) copyBytes(input, originalEnd, output, o + 28 + padded, extension);
  write16(output, o + 22, checksum(output, o + 20, o + total));

  // Outer IPv4 header: at most 576 bytes, so DF = 0 and a fresh identification.
  const identification = nextIdentification(state);
  writeIpv4Header(
    output,
    o,
    cfg.ignoreTrafficClass ? 0 : v6.trafficClass,
    total,
    identification,
    0,
    v6.hopLimit - 1,
    1,
    state.outer.src4,
    state.outer.dst4,
  );
  return single(state.result, total, Verdict.Translate, 0);
}
