// A raw ICMPv6 socket (the `raw-socket` addon) with the kernel's ICMP6_FILTER set to the one type a
// user wants (RFC 3542 sec. 3.2), so the RA listener and the PLAT probe wake only for their own
// messages. The kernel fills in ICMPv6 checksums on raw ICMPv6 sockets (RFC 3542 sec. 3.1).
import { createRequire } from 'node:module';
import type * as RawSocket from 'raw-socket';
import { ClatError } from './errors.js';

const IPPROTO_ICMPV6 = 58;
const ICMP6_FILTER = 1;

export type Icmpv6Socket = RawSocket.Socket;

export function openIcmpv6Socket(
  passType: number,
  onMessage: (message: Buffer, source: string) => void,
): Icmpv6Socket {
  let raw: typeof RawSocket;
  try {
    raw = createRequire(import.meta.url)('raw-socket') as typeof RawSocket;
  } catch (error) {
    throw new ClatError(
      'XLAT64_ERR_RAW_SOCKET',
      `cannot load the raw-socket addon (${(error as Error).message}); run 'npm install' (it builds the addon)`,
      { cause: error },
    );
  }
  let socket: Icmpv6Socket;
  try {
    socket = raw.createSocket({ protocol: raw.Protocol.ICMPv6, addressFamily: raw.AddressFamily.IPv6 });
  } catch (error) {
    throw new ClatError(
      'XLAT64_ERR_RAW_SOCKET',
      `cannot open a raw ICMPv6 socket (${(error as Error).message}); the CLAT needs root or CAP_NET_RAW`,
      { cause: error },
    );
  }
  // struct icmp6_filter: 256 bits, a set bit blocks that type; pass only `passType`.
  const filter = Buffer.alloc(32, 0xff);
  filter[passType >> 3] &= ~(1 << (passType & 7));
  socket.setOption(IPPROTO_ICMPV6, ICMP6_FILTER, filter, filter.length);
  socket.on('message', onMessage);
  return socket;
}
