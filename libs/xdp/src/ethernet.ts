// Ethernet II framing (IEEE 802.3 clause 3.2.6) for frames received from and sent to an AF_XDP
// socket: the 14-byte header in front of every IPv4/IPv6 packet, MAC address text, EtherTypes.
// The header functions are on the packet path: no allocation, no throw.

export const ETHERNET_HEADER_BYTES = 14;

export const EtherType = { ipv4: 0x0800, arp: 0x0806, ipv6: 0x86dd, vlan: 0x8100 } as const;

/** Parses 'aa:bb:cc:dd:ee:ff' (control plane); null when it is not a MAC address. */
export function parseMac(text: string): Uint8Array | null {
  const parts = text.split(':');
  if (parts.length !== 6) return null;
  const mac = new Uint8Array(6);
  for (let i = 0; i < 6; i++) {
    if (!/^[0-9a-fA-F]{2}$/.test(parts[i])) return null;
    mac[i] = Number.parseInt(parts[i], 16);
  }
  return mac;
}

export function formatMac(bytes: Uint8Array, offset = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(bytes[offset + i].toString(16).padStart(2, '0'));
  return out.join(':');
}

/** The EtherType of the frame at `offset` (VLAN tags are not looked through). */
export function readEtherType(frame: Uint8Array, offset: number): number {
  return (frame[offset + 12] << 8) | frame[offset + 13];
}

/**
 * Writes a 14-byte header at `offset`: destination MAC from dst[dstOffset..+6], source from
 * src[srcOffset..+6], then the EtherType.
 */
export function writeEthernetHeader(
  frame: Uint8Array,
  offset: number,
  dst: Uint8Array,
  dstOffset: number,
  src: Uint8Array,
  srcOffset: number,
  etherType: number,
): void {
  for (let i = 0; i < 6; i++) {
    frame[offset + i] = dst[dstOffset + i];
    frame[offset + 6 + i] = src[srcOffset + i];
  }
  frame[offset + 12] = etherType >> 8;
  frame[offset + 13] = etherType & 0xff;
}
