// Shared helpers for the engine's tests: an engine with a seeded random source and a fake clock,
// and flow keys written from text addresses.
import {
  ArrayEventSink,
  createFlowKey4,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  type FlowKey4,
  type FlowKey6,
  formatIpv4,
  type NatEngine,
  type NatEngineConfigInput,
  type NatEngineOptions,
  Protocol,
  parseIpv4,
  parseIpv6,
} from '../src/internal.js';

export interface Harness {
  engine: NatEngine;
  sink: ArrayEventSink;
}

export function harness(
  config: Partial<NatEngineConfigInput> = {},
  seed = 1,
  startMs = 0,
  options: Partial<NatEngineOptions> = {},
): Harness {
  const sink = new ArrayEventSink();
  const engine = createNatEngine(
    { pool: ['203.0.113.0/30'], sessionsMax: 4096, subscribersMax: 256, ...config },
    {
      sink,
      random: createSeededRandom(seed),
      startMs,
      ...options,
    },
  );
  engine.start(startMs);
  return { engine, sink };
}

const protocols = { tcp: Protocol.Tcp, udp: Protocol.Udp, icmp: Protocol.Icmp6 } as const;

/** An IPv6-side key: `v6('udp', '2001:db8::1', 5000, '198.51.100.1', 53)`. */
export function v6(
  protocol: keyof typeof protocols,
  src: string,
  srcPort: number,
  dst4: string,
  dstPort: number,
  tcpFlags = 0,
  key: FlowKey6 = createFlowKey6(),
): FlowKey6 {
  key.protocol = protocols[protocol];
  if (!parseIpv6(src, key.src6)) throw new Error(`bad IPv6 ${src}`);
  key.srcPort = srcPort;
  key.dst4 = parseIpv4(dst4);
  key.dstPort = dstPort;
  key.tcpFlags = tcpFlags;
  key.icmpError = false;
  return key;
}

/** An IPv4-side key: `v4('udp', '198.51.100.1', 53, '203.0.113.1', 40000)`. */
export function v4(
  protocol: keyof typeof protocols,
  src4: string,
  srcPort: number,
  dst4: string | number,
  dstPort: number,
  tcpFlags = 0,
  key: FlowKey4 = createFlowKey4(),
): FlowKey4 {
  key.protocol = protocol === 'icmp' ? Protocol.Icmp4 : protocols[protocol];
  key.src4 = parseIpv4(src4);
  key.srcPort = srcPort;
  key.dst4 = typeof dst4 === 'number' ? dst4 : parseIpv4(dst4);
  key.dstPort = dstPort;
  key.tcpFlags = tcpFlags;
  key.icmpError = false;
  return key;
}

export { formatIpv4 };

/** The session of an IPv6-side key, or null: its TCP state and expiry. */
export function sessionOf(
  engine: NatEngine,
  key: FlowKey6,
): { state: number; expiresAtMs: number; loggedExpiresAtMs: number } | null {
  const st = engine.state;
  const slot = key.protocol === Protocol.Tcp ? 0 : key.protocol === Protocol.Udp ? 1 : 2;
  const m = st.findMapping6(slot, key.src6, 0, key.srcPort);
  if (m === -1) return null;
  const s = st.findSession(m, key.dst4, slot === 2 ? 0 : key.dstPort);
  if (s === -1) return null;
  return {
    state: st.sessionStateOf(s),
    expiresAtMs: st.sessionExpiresAtOf(s),
    loggedExpiresAtMs: st.sessionLoggedExpiresAtOf(s),
  };
}

/** The IPv4 transport address of an IPv6-side key's mapping, or null. */
export function mappingOf(engine: NatEngine, key: FlowKey6): { address: string; port: number } | null {
  const st = engine.state;
  const slot = key.protocol === Protocol.Tcp ? 0 : key.protocol === Protocol.Udp ? 1 : 2;
  const m = st.findMapping6(slot, key.src6, 0, key.srcPort);
  if (m === -1) return null;
  return { address: formatIpv4(st.mappingV4Of(m)), port: st.mappingV4PortOf(m) };
}

/** Runs the wheels and publishes refreshes at `nowMs`; returns the hold ids of the SYNs whose hold ran out (advance's output). */
export function tick(engine: NatEngine, nowMs: number): number[] {
  const expired = Array.from(engine.expiredHoldIds.subarray(0, engine.advance(nowMs)));
  engine.flush(nowMs);
  return expired;
}
