// Listens for IPv6 router advertisements on a raw ICMPv6 socket (RFC 4861 sec. 6.1.2) and hands
// each one's source and RFC 8781 PREF64 options, or the reason it was ignored, to the discovery. The socket
// filter passes only type 134. Limitation: the raw-socket addon reads no ancillary data, so the
// hop limit 255 check of RFC 4861 sec. 6.1.2 is left to the kernel's own RA handling.
import { type Icmpv6Socket, openIcmpv6Socket } from './icmpv6-socket.js';
import {
  ICMPV6_ROUTER_ADVERTISEMENT,
  type ParsedRouterAdvertisement,
  parseRouterAdvertisement,
} from './rfc8781.js';

export interface RaListener {
  stop(): void;
}

export function startRaListener(
  onAdvertisement: (router: string, ra: ParsedRouterAdvertisement) => void,
  onError: (error: Error) => void,
): RaListener {
  let socket: Icmpv6Socket | null = openIcmpv6Socket(ICMPV6_ROUTER_ADVERTISEMENT, (message, source) => {
    const parsed = parseRouterAdvertisement(message);
    if (parsed !== null) onAdvertisement(source, parsed);
  });
  socket.on('error', onError);
  return {
    stop() {
      socket?.close();
      socket = null;
    },
  };
}
