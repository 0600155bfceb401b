// RFC 6146 sec. 3.5.2.2: the TCP session state machine, with RFC 7857 sec. 2.2 RST handling (an RST moves
// the session to TRANS for 4 minutes instead of deleting it) and the ESTABLISHED expiry of sec. 3.5.2.2
// without probes (the session moves to TRANS). Pure: (state, direction, flags) -> next state + lifetime.

import { TcpFlag } from './flow-key.js';

export const TcpState = {
  Closed: 0,
  V6Init: 1,
  V4Init: 2,
  Established: 3,
  V4FinRcv: 4,
  V6FinRcv: 5,
  V4V6FinRcv: 6,
  Trans: 7,
} as const;
export type TcpState = (typeof TcpState)[keyof typeof TcpState];

export const tcpStateNames = [
  'CLOSED',
  'V6 INIT',
  'V4 INIT',
  'ESTABLISHED',
  'V4 FIN RCV',
  'V6 FIN RCV',
  'V4+V6 FIN RCV',
  'TRANS',
] as const;

/** What a packet does to a session's lifetime. */
export const Lifetime = {
  /** Leave the expiry time as it is. */
  Keep: 0,
  /** Set expiry to now + transitory timeout (4 min). */
  Transitory: 1,
  /** Set expiry to now + established timeout (2 h 4 min). */
  Established: 2,
} as const;

/**
 * Next state for a packet of an existing session, packed as `state | lifetime << 4` so the established
 * path needs no allocation. `fromV6` is the packet's direction.
 */
export function tcpTransition(state: number, fromV6: boolean, flags: number): number {
  const syn = (flags & TcpFlag.Syn) !== 0;
  const fin = (flags & TcpFlag.Fin) !== 0;
  const rst = (flags & TcpFlag.Rst) !== 0;
  switch (state) {
    case TcpState.V6Init:
      // A V4 SYN (the SYN+ACK of the remote) completes the handshake; a V6 SYN retransmission refreshes.
      if (!fromV6 && syn) return TcpState.Established | (Lifetime.Established << 4);
      if (fromV6 && syn) return TcpState.V6Init | (Lifetime.Transitory << 4);
      return state | (Lifetime.Keep << 4);
    case TcpState.V4Init:
      // Simultaneous open or the subscriber's SYN+ACK to an accepted inbound SYN.
      if (fromV6 && syn) return TcpState.Established | (Lifetime.Established << 4);
      return state | (Lifetime.Keep << 4);
    case TcpState.Established:
      if (rst) return TcpState.Trans | (Lifetime.Transitory << 4);
      if (fin) return (fromV6 ? TcpState.V6FinRcv : TcpState.V4FinRcv) | (Lifetime.Established << 4);
      return TcpState.Established | (Lifetime.Established << 4);
    case TcpState.V4FinRcv:
      if (rst) return TcpState.Trans | (Lifetime.Transitory << 4);
      if (fin && fromV6) return TcpState.V4V6FinRcv | (Lifetime.Transitory << 4);
      return TcpState.V4FinRcv | (Lifetime.Established << 4);
    case TcpState.V6FinRcv:
      if (rst) return TcpState.Trans | (Lifetime.Transitory << 4);
      if (fin && !fromV6) return TcpState.V4V6FinRcv | (Lifetime.Transitory << 4);
      return TcpState.V6FinRcv | (Lifetime.Established << 4);
    case TcpState.V4V6FinRcv:
      // Both FINs seen: packets pass, the lifetime is not refreshed.
      return state | (Lifetime.Keep << 4);
    case TcpState.Trans:
      // Any non-RST packet revives the connection (RFC 6146); an RST leaves the 4-minute timer running.
      if (rst) return state | (Lifetime.Keep << 4);
      return TcpState.Established | (Lifetime.Established << 4);
    default:
      return state | (Lifetime.Keep << 4);
  }
}
