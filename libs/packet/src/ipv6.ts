// IPv6 header view (RFC 8200 sec. 3) and its extension header chain: hop-by-hop options,
// routing, destination options (sec. 4.3–4.6) and the fragment header (sec. 4.5). The parse is
// bounds-checked and fills a preallocated object; problems are a ParseStatus, never an exception.
import { read16, read32 } from './bytes.js';
import { ParseStatus } from './ipv4.js';

export const IPV6_HEADER_LENGTH = 40;
export const IPV6_FRAGMENT_HEADER_LENGTH = 8;
export const IPV6_OFFSET_PAYLOAD_LENGTH = 4;
export const IPV6_OFFSET_NEXT_HEADER = 6;
export const IPV6_OFFSET_HOP_LIMIT = 7;
export const IPV6_OFFSET_SRC = 8;
export const IPV6_OFFSET_DST = 24;

/** Next-header values of the extension headers this view walks (IANA protocol numbers). */
/**
 * True for Next Header values that are IPv6 extension headers (IANA "IPv6 Extension Header Types"):
 * hop-by-hop, routing, fragment, ESP, AH, destination options, mobility, HIP, shim6, experiments.
 */
export function isExtensionHeader(nextHeader: number): boolean {
  switch (nextHeader) {
    case 0:
    case 43:
    case 44:
    case 50:
    case 51:
    case 60:
    case 135:
    case 139:
    case 140:
    case 253:
    case 254:
      return true;
    default:
      return false;
  }
}

export const NextHeader = {
  HopByHop: 0,
  Icmp4: 1,
  Tcp: 6,
  Udp: 17,
  Routing: 43,
  Fragment: 44,
  Icmp6: 58,
  NoNext: 59,
  DestinationOptions: 60,
} as const;

/** A parsed IPv6 header and extension chain. Offsets are absolute positions in the parsed buffer. */
export class Ipv6View {
  start = 0;
  payloadLength = 0;
  /** Bytes of the packet present from `start` (≤ 40 + payloadLength for a truncated inner packet). */
  available = 0;
  trafficClass = 0;
  flowLabel = 0;
  hopLimit = 0;
  /** Upper-layer protocol: the Next Header value that ends the extension chain. */
  protocol = 0;
  /** Offset of the upper-layer header (end of the extension chain). */
  payloadOffset = 0;
  /** Bytes of extension headers between the fixed header and the upper layer. */
  extensionLength = 0;
  /** Offset of the fragment header, or -1. */
  fragmentHeaderOffset = -1;
  /** Fragment offset in 8-byte units; 0 without a fragment header. */
  fragmentOffset = 0;
  moreFragments = false;
  identification = 0;
  /** Offset of a routing header's Segments Left field when it is non-zero, or -1. */
  segmentsLeftOffset = -1;

  get hasFragmentHeader(): boolean {
    return this.fragmentHeaderOffset >= 0;
  }
  /** True when the fragment header really fragments (M set or a non-zero offset). */
  get isFragment(): boolean {
    return this.fragmentHeaderOffset >= 0 && (this.moreFragments || this.fragmentOffset !== 0);
  }
}

/**
 * Parses the IPv6 header at `buf[start]` and walks its extension headers. `strict` (an outer
 * packet) requires the whole payload to be present; a non-strict parse (inside an ICMPv6 error)
 * needs only the extension headers. A jumbogram (payload length 0 and a hop-by-hop header) is
 * Malformed: it cannot be translated (IPv4 has no equivalent).
 */
export function parseIpv6(
  buf: Uint8Array,
  start: number,
  available: number,
  view: Ipv6View,
  strict: boolean,
): ParseStatus {
  if (available < IPV6_HEADER_LENGTH || start + available > buf.length) return ParseStatus.Truncated;
  if (buf[start] >> 4 !== 6) return ParseStatus.Malformed;
  const payloadLength = read16(buf, start + IPV6_OFFSET_PAYLOAD_LENGTH);
  // Payload length 0 with a hop-by-hop header is a jumbogram (RFC 2675); alone it is an empty packet.
  if (payloadLength === 0 && buf[start + IPV6_OFFSET_NEXT_HEADER] === NextHeader.HopByHop)
    return ParseStatus.Malformed;
  const total = IPV6_HEADER_LENGTH + payloadLength;
  if (strict && total > available) return ParseStatus.Truncated;
  const end = start + Math.min(available, total);
  view.start = start;
  view.payloadLength = payloadLength;
  view.available = end - start;
  view.trafficClass = ((buf[start] & 0x0f) << 4) | (buf[start + 1] >> 4);
  view.flowLabel = ((buf[start + 1] & 0x0f) << 16) | read16(buf, start + 2);
  view.hopLimit = buf[start + IPV6_OFFSET_HOP_LIMIT];
  view.fragmentHeaderOffset = -1;
  view.fragmentOffset = 0;
  view.moreFragments = false;
  view.identification = 0;
  view.segmentsLeftOffset = -1;

  let next = buf[start + IPV6_OFFSET_NEXT_HEADER];
  let offset = start + IPV6_HEADER_LENGTH;
  const payloadEnd = start + total;
  let first = true;
  for (;;) {
    if (
      next === NextHeader.HopByHop ||
      next === NextHeader.DestinationOptions ||
      next === NextHeader.Routing
    ) {
      // RFC 8200 sec. 4.3: hop-by-hop options only immediately after the fixed header.
      if (next === NextHeader.HopByHop && !first) return ParseStatus.Malformed;
      if (offset + 8 > payloadEnd) return ParseStatus.Malformed;
      if (offset + 8 > end) return ParseStatus.Truncated;
      const length = (buf[offset + 1] + 1) << 3;
      if (offset + length > payloadEnd) return ParseStatus.Malformed;
      if (offset + length > end) return ParseStatus.Truncated;
      if (next === NextHeader.Routing && buf[offset + 3] !== 0 && view.segmentsLeftOffset < 0) {
        view.segmentsLeftOffset = offset + 3;
      }
      next = buf[offset];
      offset += length;
    } else if (next === NextHeader.Fragment) {
      if (view.fragmentHeaderOffset >= 0) return ParseStatus.Malformed;
      if (offset + IPV6_FRAGMENT_HEADER_LENGTH > payloadEnd) return ParseStatus.Malformed;
      if (offset + IPV6_FRAGMENT_HEADER_LENGTH > end) return ParseStatus.Truncated;
      const field = read16(buf, offset + 2);
      view.fragmentHeaderOffset = offset;
      view.fragmentOffset = field >> 3;
      view.moreFragments = (field & 1) !== 0;
      view.identification = read32(buf, offset + 4);
      next = buf[offset];
      offset += IPV6_FRAGMENT_HEADER_LENGTH;
      // Past a non-first fragment the rest of the chain is not in this packet.
      if (view.fragmentOffset !== 0) break;
    } else {
      break;
    }
    first = false;
  }
  view.protocol = next;
  view.payloadOffset = offset;
  view.extensionLength = offset - start - IPV6_HEADER_LENGTH;
  return ParseStatus.Ok;
}
