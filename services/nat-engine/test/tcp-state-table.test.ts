// Proves tcpTransition follows the RFC 6146 sec. 3.5.2.2 TCP state machine (with the RFC 7857 sec. 2.2
// RST rule) for every (state, direction, SYN/FIN/RST/ACK combination) of an existing session. The
// expectations below are written from the RFC's text, state by state, not from the code: the replay
// test cannot see a wrong transition because live and replay share tcpTransition.
import { describe, expect, it } from 'vitest';
import { Lifetime, TcpFlag, TcpState, tcpTransition } from '../src/internal.js';
import { tcpStateNames } from '../src/tcp-state-machine.js';

const S = TcpState;
type LifetimeName = 'keep' | 'transitory' | 'established';
/** What the RFC says for one packet: the next state and, where the RFC says it, the lifetime. */
interface Expected {
  state: number;
  /** undefined: the RFC sets no lifetime for this packet (not asserted). */
  lifetime?: LifetimeName;
  rule: string;
}

interface Packet {
  fromV6: boolean;
  syn: boolean;
  fin: boolean;
  rst: boolean;
}

/**
 * RFC 6146 sec. 3.5.2.2, per state, in the RFC's words (abridged). "V6 X" is a packet with flag X
 * arriving from the IPv6 side, "V4 X" from the IPv4 side. RFC 7857 sec. 2.2 updates it for RST: a
 * session that sees an RST is kept 4 minutes (TRANS) instead of being deleted.
 */
function rfc6146(state: number, p: Packet): Expected {
  const v6 = p.fromV6;
  switch (state) {
    case S.V6Init:
      // "If a V4 SYN packet is received ... the state is moved to ESTABLISHED. The lifetime of the
      // state is set to TCP_EST." / "If a V6 SYN packet is received ... the lifetime ... TCP_TRANS."
      if (!v6 && p.syn) return { state: S.Established, lifetime: 'established', rule: 'V6 INIT + V4 SYN' };
      if (v6 && p.syn) return { state: S.V6Init, lifetime: 'transitory', rule: 'V6 INIT + V6 SYN' };
      // Any other packet is translated and forwarded: neither the state nor the lifetime changes.
      return { state: S.V6Init, lifetime: 'keep', rule: 'V6 INIT + other: forwarded, no transition' };
    case S.V4Init:
      // "If a V6 SYN packet is received ... the state is moved to ESTABLISHED ... TCP_EST." Nothing
      // else leaves V4 INIT before the lifetime expires.
      if (v6 && p.syn) return { state: S.Established, lifetime: 'established', rule: 'V4 INIT + V6 SYN' };
      // The accepted inbound SYN's TCP_TRANS lifetime keeps running: nothing else refreshes it.
      return { state: S.V4Init, lifetime: 'keep', rule: 'V4 INIT + anything but a V6 SYN: no transition' };
    case S.Established:
      // "If a V4 RST or a V6 RST packet is received ... moved to TRANS ... TCP_TRANS" (RFC 7857 2.2).
      if (p.rst) return { state: S.Trans, lifetime: 'transitory', rule: 'ESTABLISHED + RST' };
      // "If a V4 FIN packet is received ... moved to V4 FIN RCV"; "V6 FIN ... V6 FIN RCV".
      if (p.fin) return { state: v6 ? S.V6FinRcv : S.V4FinRcv, rule: 'ESTABLISHED + FIN' };
      // "If any other packet is received, the lifetime of the state is set to TCP_EST."
      return { state: S.Established, lifetime: 'established', rule: 'ESTABLISHED + other' };
    case S.V4FinRcv:
      if (p.rst) return { state: S.Trans, lifetime: 'transitory', rule: 'V4 FIN RCV + RST (RFC 7857)' };
      // "If a V6 FIN packet is received ... moved to V4+V6 FIN RCV ... TCP_TRANS."
      if (v6 && p.fin) return { state: S.V4V6FinRcv, lifetime: 'transitory', rule: 'V4 FIN RCV + V6 FIN' };
      // "If any packet other than the V6 FIN is received, the lifetime ... TCP_EST."
      return { state: S.V4FinRcv, lifetime: 'established', rule: 'V4 FIN RCV + other' };
    case S.V6FinRcv:
      if (p.rst) return { state: S.Trans, lifetime: 'transitory', rule: 'V6 FIN RCV + RST (RFC 7857)' };
      // "If a V4 FIN packet is received ... moved to V4+V6 FIN RCV ... TCP_TRANS."
      if (!v6 && p.fin) return { state: S.V4V6FinRcv, lifetime: 'transitory', rule: 'V6 FIN RCV + V4 FIN' };
      // "If any packet other than the V4 FIN is received, the lifetime ... TCP_EST."
      return { state: S.V6FinRcv, lifetime: 'established', rule: 'V6 FIN RCV + other' };
    case S.V4V6FinRcv:
      // "All packets are translated and forwarded"; the TCP_TRANS lifetime set on entry runs out.
      return { state: S.V4V6FinRcv, lifetime: 'keep', rule: 'V4+V6 FIN RCV + anything' };
    case S.Trans:
      // "If a packet other than a RST packet is received, the lifetime ... TCP_EST and the state is
      // moved to ESTABLISHED." An RST leaves it in TRANS.
      if (p.rst) return { state: S.Trans, rule: 'TRANS + RST' };
      return { state: S.Established, lifetime: 'established', rule: 'TRANS + non-RST' };
    case S.Closed:
      // CLOSED is the RFC's fictional state of no session: the engine never keeps a session in it, and
      // a packet handed one is left as it is rather than inventing a transition.
      return { state: S.Closed, lifetime: 'keep', rule: 'CLOSED (no session) + anything' };
    default:
      throw new Error(`no RFC row for state ${state}`);
  }
}

const lifetimeNames: Record<number, LifetimeName> = {
  [Lifetime.Keep]: 'keep',
  [Lifetime.Transitory]: 'transitory',
  [Lifetime.Established]: 'established',
};

const states = [S.Closed, S.V6Init, S.V4Init, S.Established, S.V4FinRcv, S.V6FinRcv, S.V4V6FinRcv, S.Trans];

function flagName(flags: number): string {
  const names: string[] = [];
  if (flags & TcpFlag.Syn) names.push('SYN');
  if (flags & TcpFlag.Fin) names.push('FIN');
  if (flags & TcpFlag.Rst) names.push('RST');
  if (flags & TcpFlag.Ack) names.push('ACK');
  return names.length === 0 ? 'none' : names.join('+');
}

describe('RFC 6146 sec. 3.5.2.2 TCP state table, every (state, direction, flags)', () => {
  for (const state of states) {
    it(`${tcpStateNames[state]}: all 16 SYN/FIN/RST/ACK combinations from each side give the RFC's next state and lifetime`, () => {
      const wrong: string[] = [];
      for (const fromV6 of [true, false]) {
        for (let bits = 0; bits < 16; bits++) {
          const flags =
            (bits & 1 ? TcpFlag.Syn : 0) |
            (bits & 2 ? TcpFlag.Fin : 0) |
            (bits & 4 ? TcpFlag.Rst : 0) |
            (bits & 8 ? TcpFlag.Ack : 0);
          const want = rfc6146(state, {
            fromV6,
            syn: (flags & TcpFlag.Syn) !== 0,
            fin: (flags & TcpFlag.Fin) !== 0,
            rst: (flags & TcpFlag.Rst) !== 0,
          });
          const packed = tcpTransition(state, fromV6, flags);
          if (!Number.isInteger(packed))
            wrong.push(`${flagName(flags)}: returned ${packed}, not a packed state`);
          const gotState = packed & 0xf;
          const gotLifetime = lifetimeNames[packed >> 4];
          const where = `${fromV6 ? 'V6' : 'V4'} ${flagName(flags)} (${want.rule})`;
          if (gotState !== want.state)
            wrong.push(`${where}: state ${tcpStateNames[gotState]}, RFC says ${tcpStateNames[want.state]}`);
          if (want.lifetime !== undefined && gotLifetime !== want.lifetime)
            wrong.push(`${where}: lifetime ${gotLifetime}, RFC says ${want.lifetime}`);
        }
      }
      expect(wrong).toEqual([]);
    });
  }
});
