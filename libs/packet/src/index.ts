// Public surface of libs/packet: zero-copy, bounds-checked views over IPv4/IPv6/TCP/UDP/ICMP headers
// and Internet checksums (RFC 1071, incremental RFC 1624).
export { copyBytes, read16, read32, write16, write32 } from './bytes.js';
export {
  adjust as checksumAdjust,
  checksum,
  finish as checksumFinish,
  sumWords,
} from './checksum.js';
export { writeIcmp4ErrorMessage, writeIcmp6ErrorMessage } from './icmp-error.js';
export {
  ICMP_ERRORS_BURST_DEFAULT,
  ICMP_ERRORS_PER_SECOND_DEFAULT,
  IcmpErrorBucket,
} from './icmp-rate-limit.js';
export {
  findUnexpiredSourceRoute,
  IPV4_FLAG_DF,
  IPV4_FLAG_MF,
  IPV4_HEADER_MIN,
  IPV4_OFFSET_CHECKSUM,
  IPV4_OFFSET_DST,
  IPV4_OFFSET_FLAGS,
  IPV4_OFFSET_ID,
  IPV4_OFFSET_MASK,
  IPV4_OFFSET_PROTOCOL,
  IPV4_OFFSET_SRC,
  IPV4_OFFSET_TOS,
  IPV4_OFFSET_TOTAL_LENGTH,
  IPV4_OFFSET_TTL,
  Ipv4Option,
  Ipv4View,
  ipv4HeaderChecksum,
  ParseStatus,
  parseIpv4,
  readAddress4,
  writeAddress4,
} from './ipv4.js';
export {
  IPV6_FRAGMENT_HEADER_LENGTH,
  IPV6_HEADER_LENGTH,
  IPV6_OFFSET_DST,
  IPV6_OFFSET_HOP_LIMIT,
  IPV6_OFFSET_NEXT_HEADER,
  IPV6_OFFSET_PAYLOAD_LENGTH,
  IPV6_OFFSET_SRC,
  Ipv6View,
  isExtensionHeader,
  NextHeader,
  parseIpv6,
} from './ipv6.js';
export {
  ICMP_HEADER_LENGTH,
  ICMP_OFFSET_CHECKSUM,
  ICMP_OFFSET_REST,
  ICMP4_OFFSET_LENGTH,
  ICMP6_OFFSET_LENGTH,
  Icmp4Code,
  Icmp4Type,
  Icmp6Type,
  L4View,
  Protocol,
  parseL4,
  TCP_HEADER_MIN,
  TCP_OFFSET_CHECKSUM,
  TCP_OFFSET_FLAGS,
  UDP_HEADER_LENGTH,
  UDP_OFFSET_CHECKSUM,
  UDP_OFFSET_LENGTH,
} from './l4.js';
