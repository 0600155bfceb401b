// Translation microbenchmarks (RFC 7915 stateless translator, both directions): TCP 1500 B, UDP 64 B,
// ICMP echo and ICMP error, one core. For each it prints packets per second, a baseline measured in
// the same run (copying the same input bytes into the output buffer, the least any translator must
// do) and the ratio, and the heap bytes allocated per packet.
//
// Allocation method: gc(), read heapUsed, translate N packets, read heapUsed again; the difference
// divided by N is the allocation per packet, valid only if no garbage collection ran in between,
// which a PerformanceObserver on 'gc' entries checks (N is halved and the run repeated if one did).
// `npm run bench` starts node with --expose-gc; without it the column says so.
import { PerformanceObserver } from 'node:perf_hooks';
import { createTranslator, Verdict } from '../../libs/xlat/src/index.js';
import { filler, icmp, icmpEcho, ipv4, ipv6, tcp, udp } from '../support/build.js';

const P = '2001:db8:64::';
const S4 = '192.0.2.1';
const H4 = '198.51.100.2';

interface Case {
  name: string;
  direction: 46 | 64;
  packet: Buffer;
}

function cases(): Case[] {
  const inner4 = ipv4({ src: H4, dst: S4, payload: udp({ payload: filler(36) }) });
  const inner6 = ipv6({ src: P + S4, dst: P + H4, payload: udp({ payload: filler(36) }) });
  return [
    {
      name: 'TCP 1500 B',
      direction: 46,
      packet: ipv4({ src: S4, dst: H4, df: true, payload: tcp({ payload: filler(1460) }) }),
    },
    {
      name: 'TCP 1500 B',
      direction: 64,
      packet: ipv6({ src: P + H4, dst: P + S4, payload: tcp({ payload: filler(1440) }) }),
    },
    {
      name: 'UDP 64 B',
      direction: 46,
      packet: ipv4({ src: S4, dst: H4, payload: udp({ payload: filler(36) }) }),
    },
    {
      name: 'UDP 64 B',
      direction: 64,
      packet: ipv6({ src: P + H4, dst: P + S4, payload: udp({ payload: filler(16) }) }),
    },
    {
      name: 'ICMP echo',
      direction: 46,
      packet: ipv4({ src: S4, dst: H4, payload: icmpEcho(8, 1, 1, filler(56)) }),
    },
    {
      name: 'ICMP echo',
      direction: 64,
      packet: ipv6({ src: P + H4, dst: P + S4, payload: icmpEcho(128, 1, 1, filler(56)) }),
    },
    {
      name: 'ICMP error',
      direction: 46,
      packet: ipv4({ src: '203.0.113.9', dst: H4, payload: icmp({ type: 3, code: 3, body: inner4 }) }),
    },
    {
      name: 'ICMP error',
      direction: 64,
      packet: ipv6({
        src: `${P}198.51.100.254`,
        dst: P + S4,
        payload: icmp({ type: 1, code: 4, body: inner6 }),
      }),
    },
  ];
}

type Step = (input: Uint8Array, output: Uint8Array) => number;

/** Packets per second of `step` over about `ms` milliseconds (after a warm-up). */
function rate(step: Step, input: Uint8Array, output: Uint8Array, ms: number): number {
  for (let i = 0; i < 20_000; i++) step(input, output);
  let n = 0;
  let batch = 10_000;
  const start = process.hrtime.bigint();
  let elapsedNs = 0;
  for (;;) {
    for (let i = 0; i < batch; i++) step(input, output);
    n += batch;
    elapsedNs = Number(process.hrtime.bigint() - start);
    if (elapsedNs >= ms * 1e6) break;
    if (batch < 1_000_000) batch *= 2;
  }
  return (n / elapsedNs) * 1e9;
}

let gcCount = 0;
const observer = new PerformanceObserver((list) => {
  gcCount += list.getEntries().length;
});

// PerformanceObserver entries arrive asynchronously; a short wait lets the forced gc() entry land
// before the count is read, and any GC during the loop land before it is compared.
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 20));

/** Heap bytes per packet over a GC-free run, or a note why it could not be measured. */
async function allocationPerPacket(step: Step, input: Uint8Array, output: Uint8Array): Promise<string> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return 'n/a (needs --expose-gc)';
  for (let n = 200_000; n >= 12_500; n /= 2) {
    gc();
    await settle();
    const before = gcCount;
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < n; i++) step(input, output);
    const heapAfter = process.memoryUsage().heapUsed;
    await settle();
    if (gcCount === before) return ((heapAfter - heapBefore) / n).toFixed(2);
  }
  return 'n/a (a GC ran in every attempt: allocates)';
}

export default async function main(): Promise<void> {
  observer.observe({ entryTypes: ['gc'] });
  const t = createTranslator({ prefix: `${P}/96`, mtu4: 9000, mtu6: 9000 });
  const rows: string[][] = [];
  const output = new Uint8Array(65535 + 2048);
  const copy: Step = (input, out) => {
    out.set(input);
    return 0;
  };
  for (const c of cases()) {
    const step: Step = c.direction === 46 ? (i, o) => t.v4ToV6(i, o) : (i, o) => t.v6ToV4(i, o);
    const verdict = step(c.packet, output);
    if (verdict !== Verdict.Translate)
      throw new Error(`${c.name} ${c.direction}: verdict ${verdict}, expected Translate`);
    const outLength = t.result.length;
    const translated = rate(step, c.packet, output, 600);
    const baseline = rate(copy, c.packet, output, 300);
    const alloc = await allocationPerPacket(step, c.packet, output);
    const allocBase = await allocationPerPacket(copy, c.packet, output);
    rows.push([
      c.direction === 46 ? '4->6' : '6->4',
      c.name,
      `${c.packet.length} -> ${outLength}`,
      (translated / 1e6).toFixed(2),
      (baseline / 1e6).toFixed(2),
      (translated / baseline).toFixed(2),
      alloc,
      allocBase,
    ]);
  }
  observer.disconnect();
  const head = [
    'dir',
    'packet',
    'bytes in -> out',
    'Mpps',
    'copy Mpps',
    'ratio',
    'B alloc/pkt',
    'copy B/pkt',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(
    [
      'one core, one translator, input/output buffers reused; baseline = copying the input bytes into the output',
      line(head),
      line(widths.map((w) => '-'.repeat(w))),
      ...rows.map(line),
      'allocation: heapUsed difference over a run with no GC observed (PerformanceObserver "gc"), divided by packets',
      'target (issue 2): >= 2 Mpps per core for small packets, 0 B/pkt; on a shared 2-vCPU machine compare the ratio column across runs',
      '',
    ].join('\n'),
  );
}
