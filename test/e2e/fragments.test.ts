// Large UDP datagrams that need fragments (issue 4): a 4000-byte datagram crosses the 1500-byte
// links as IPv6 fragments (client side) and IPv4 fragments (server side), so the PLAT must carry
// every fragment of a datagram on its first fragment's NAT session (RFC 6146 sec. 3.4/3.5), and the
// CLAT must translate fragments statelessly (RFC 7915 sec. 4.1/5.1). Each datagram's content is
// checked by SHA-256 (server side) or byte for byte (client side). The suite runs with each PLAT I/O
// (TUN, and AF_XDP where the fragments reach the PLAT unreassembled from the wire), one lab each.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  counterDelta,
  createE2eLab,
  type E2eLab,
  PLAT_IOS,
  SERVER_V4,
  SERVER_V6,
  startUdpServer,
  UDP_PORT,
} from './support.js';

const LARGE = 4000;

interface SendResult {
  sent: number;
  reply: string | null;
  ok: boolean;
}
interface AskResult {
  asked: number;
  received: number | null;
  ok: boolean;
}

const send = (lab: E2eLab, dst: string, size: number) =>
  lab.tool<SendResult>('client', [
    'udp-send',
    dst,
    String(UDP_PORT),
    String(size),
    '--tag',
    `send ${size}`,
    '--tries',
    '2',
  ]);
const ask = (lab: E2eLab, dst: string, size: number) =>
  lab.tool<AskResult>('client', [
    'udp-ask',
    dst,
    String(UDP_PORT),
    String(size),
    '--tag',
    `ask ${size}`,
    '--tries',
    '2',
  ]);

describe.each(PLAT_IOS)('large UDP datagrams in fragments (xlat64 CLAT + xlat64 PLAT on %s)', (io) => {
  const lab = createE2eLab('e2e-frag', { plat: 'xlat64', clat: 'xlat64', io });
  let before: Record<string, number> = {};

  beforeAll(() => {
    lab.up();
    startUdpServer(lab);
    before = lab.counters('plat');
  });

  afterAll(() => {
    lab.teardown();
  });

  it('carries 1000-byte datagrams both ways without fragments (control)', () => {
    // Proves the UDP path itself works, so the failures below, if any, are about fragments.
    expect(send(lab, SERVER_V6, 1000)).toMatchObject({ ok: true });
    expect(ask(lab, SERVER_V6, 1000)).toMatchObject({ ok: true });
    expect(send(lab, SERVER_V4, 1000)).toMatchObject({ ok: true });
    expect(ask(lab, SERVER_V4, 1000)).toMatchObject({ ok: true });
  });

  it('NAT64: a 4000-byte datagram from the IPv6 client arrives intact at the IPv4 server', () => {
    // Proves the PLAT translates the client's IPv6 fragments (first and later ones) 6->4.
    expect(send(lab, SERVER_V6, LARGE)).toMatchObject({ sent: LARGE, ok: true });
  });

  it('NAT64: a 4000-byte datagram from the IPv4 server arrives intact at the IPv6 client', () => {
    // Proves the PLAT translates the server's IPv4 fragments (first and later ones) 4->6.
    expect(ask(lab, SERVER_V6, LARGE)).toMatchObject({ received: LARGE, ok: true });
  });

  it('464XLAT: a 4000-byte datagram from the CLAT user arrives intact at the IPv4 server', () => {
    // Proves IPv4 fragments become IPv6 fragments at the CLAT and IPv4 fragments again at the PLAT.
    expect(send(lab, SERVER_V4, LARGE)).toMatchObject({ sent: LARGE, ok: true });
  });

  it('464XLAT: a 4000-byte datagram from the IPv4 server arrives intact at the CLAT user', () => {
    // Proves the server's IPv4 fragments cross the PLAT and the CLAT and reassemble at the client.
    expect(ask(lab, SERVER_V4, LARGE)).toMatchObject({ received: LARGE, ok: true });
  });

  it('the PLAT dropped no fragment', () => {
    // Proves no fragment of the datagrams above was charged to drop.fragment64 / drop.fragment46.
    const delta = counterDelta(before, lab.counters('plat'));
    expect(delta['drop.fragment64'] ?? 0, JSON.stringify(delta)).toBe(0);
    expect(delta['drop.fragment46'] ?? 0, JSON.stringify(delta)).toBe(0);
  });
});
