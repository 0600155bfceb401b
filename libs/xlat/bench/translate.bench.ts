// Packets per second of the stateless translator for small packets (target: 2 Mpps per core) and
// heap growth per packet (target: none), side by side with a plain copy of the same bytes as the
// baseline, in one process (CONVENTIONS.md 9, 19).
import { createStatefulTranslator, createTranslator, parseIpv4Address, XlatTuple } from '../src/index.js';
import { icmp, ipv4, ipv6, tcp, udp, v6 } from '../test/packets.js';

const ROUNDS = 1_000_000;

function measure(name: string, run: () => void, baselineNs?: number): number {
  for (let i = 0; i < 200_000; i++) run(); // warm up into optimised code
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const start = process.hrtime.bigint();
  for (let i = 0; i < ROUNDS; i++) run();
  const ns = Number(process.hrtime.bigint() - start) / ROUNDS;
  const heapAfter = process.memoryUsage().heapUsed;
  const mpps = 1000 / ns;
  const ratio = baselineNs ? ` ${(ns / baselineNs).toFixed(1)}x copy` : '';
  const bytes = ((heapAfter - heapBefore) / ROUNDS).toFixed(3);
  process.stdout.write(
    `${name.padEnd(34)} ${ns.toFixed(0).padStart(5)} ns  ${mpps.toFixed(2)} Mpps${ratio}  heap ${bytes} B/pkt\n`,
  );
  return ns;
}

export default async function main(): Promise<void> {
  const t = createTranslator({ prefix: '2001:db8:64::/96' });
  const out = new Uint8Array(4096);
  const u4 = ipv4({ src: '192.0.2.1', dst: '198.51.100.2', protocol: 17, payload: udp(1234, 53, 18) });
  const t4 = ipv4({ src: '192.0.2.1', dst: '198.51.100.2', protocol: 6, payload: tcp(1234, 80, 0x10, 12) });
  const e4 = ipv4({
    src: '192.0.2.1',
    dst: '198.51.100.2',
    protocol: 1,
    payload: icmp(8, 0, 0x00010001, 56),
  });
  const u6 = ipv6({
    src: '2001:db8:64::198.51.100.2',
    dst: '2001:db8:64::192.0.2.1',
    nextHeader: 17,
    payload: udp(53, 1234, 18),
  });
  const t6 = ipv6({
    src: '2001:db8:64::198.51.100.2',
    dst: '2001:db8:64::192.0.2.1',
    nextHeader: 6,
    payload: tcp(80, 1234, 0x10, 12),
  });
  const big4 = ipv4({
    src: '192.0.2.1',
    dst: '198.51.100.2',
    protocol: 6,
    payload: tcp(1234, 80, 0x10, 1440),
    df: true,
  });
  const big6 = ipv6({
    src: '2001:db8:64::198.51.100.2',
    dst: '2001:db8:64::192.0.2.1',
    nextHeader: 6,
    payload: tcp(80, 1234, 0x10, 1440),
  });
  const err4 = ipv4({ src: '203.0.113.9', dst: '198.51.100.2', protocol: 1, payload: icmp(3, 3, 0, u4) });

  process.stdout.write(`${ROUNDS} packets each; small packets are 46-74 bytes\n`);
  const copy = measure('baseline: copy 46 bytes', () => out.set(u4));
  measure('v4ToV6 UDP', () => t.v4ToV6(u4, out), copy);
  measure('v4ToV6 TCP', () => t.v4ToV6(t4, out), copy);
  measure('v4ToV6 ICMP echo', () => t.v4ToV6(e4, out), copy);
  measure('v4ToV6 ICMP error (port unreach)', () => t.v4ToV6(err4, out), copy);
  measure('v6ToV4 UDP', () => t.v6ToV4(u6, out), copy);
  measure('v6ToV4 TCP', () => t.v6ToV4(t6, out), copy);
  measure('v4ToV6 TCP 1500 bytes', () => t.v4ToV6(big4, out), copy);
  measure('v6ToV4 TCP 1500 bytes', () => t.v6ToV4(big6, out), copy);

  const nat = createStatefulTranslator({ prefix: '64:ff9b::/96' });
  const tuple = new XlatTuple();
  tuple.src4 = parseIpv4Address('198.51.100.1')!;
  tuple.dst4 = parseIpv4Address('203.0.113.7')!;
  tuple.srcPort = 6000;
  tuple.dstPort = 80;
  const s6 = ipv6({
    src: '2001:db8:1::5',
    dst: '64:ff9b::203.0.113.7',
    nextHeader: 6,
    payload: tcp(40000, 80, 0x10, 12),
  });
  measure('stateful v6ToV4 TCP', () => nat.v6ToV4(s6, out, tuple), copy);

  // The batch path: a packet inside a TUN batch buffer, written among other output packets. Last in
  // the run, so the other cases above stay monomorphic on their own arrays.
  const batch = new Uint8Array(1 << 16);
  batch.set(u6, 1001);
  const outBatch = new Uint8Array(1 << 20);
  measure('v6ToV4 UDP at offsets in a batch', () => t.v6ToV4(batch, outBatch, 1001, u6.length, 777), copy);
  measure(
    'same through two subarray views',
    () => t.v6ToV4(batch.subarray(1001, 1001 + u6.length), outBatch.subarray(777)),
    copy,
  );
  void v6;
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
