// The PLAT's per-packet work (services/ingress/src/plat-step.ts: flow-key extraction, NAT engine, RFC 7915
// rewrite) for 80/60-byte UDP packets, side by side with the baseline run in the same process: the same
// stateful rewrite (libs/xlat) with a tuple already known, i.e. a translator with no state to look up.
// The ratio is what the NAT costs on top of translation. Established flows in random order over
// 1,000,000 sessions (every lookup misses the CPU caches) and over 10,000 active flows among them, and
// the first packet of each new flow. Garbage collections during the established runs are counted (target:
// none). Packets are patched in place from a template (the same patch for the baseline), so the loop
// reads no per-flow memory but the engine's.
// Run with `npm run bench -- plat-step`.

import { roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import {
  createStatefulTranslator,
  parseRfc6052Prefix,
  Verdict,
  XlatTuple,
} from '../../../libs/xlat/src/index.js';
import { bestOf, type Timing } from '../../../test/support/collections.js';
import { CountingEventSink, createNatEngine, createSeededRandom } from '../../nat-engine/src/index.js';
import { createPlatStep, platDropNames } from '../src/plat-step.js';

const SUBSCRIBERS = 4096;
const SESSIONS = 1_000_000;
const PACKETS = 3_000_000;
const PAYLOAD = 32;

/** UDP/IPv6 from 2001:db8:0:<sub>00::1 to 64:ff9b::198.51.100.x port 443, 32 bytes of payload. */
function template6(): Uint8Array {
  const p = new Uint8Array(40 + 8 + PAYLOAD);
  p[0] = 0x60;
  p[5] = 8 + PAYLOAD;
  p[6] = 17;
  p[7] = 64;
  p.set([0x20, 0x01, 0x0d, 0xb8], 8);
  p[23] = 1;
  p.set([0x00, 0x64, 0xff, 0x9b], 24);
  p.set([198, 51, 100, 0], 36);
  p[42] = 0x01;
  p[43] = 0xbb;
  p[45] = 8 + PAYLOAD;
  return p;
}

function patch6(p: Uint8Array, f: number): void {
  const sub = f % SUBSCRIBERS;
  p[13] = (sub >>> 8) & 255;
  p[14] = sub & 255;
  const port = 1024 + Math.floor(f / SUBSCRIBERS);
  p[40] = port >>> 8;
  p[41] = port & 255;
  p[39] = f & 255;
}

/** UDP/IPv4 from 198.51.100.x port 443 to a pool address and port, 32 bytes of payload. */
function template4(): Uint8Array {
  const p = new Uint8Array(20 + 8 + PAYLOAD);
  p[0] = 0x45;
  p[3] = p.length;
  p[8] = 64;
  p[9] = 17;
  p.set([198, 51, 100, 0], 12);
  p[20] = 0x01;
  p[21] = 0xbb;
  p[25] = 8 + PAYLOAD;
  return p;
}

function patch4(p: Uint8Array, f: number, pool: number, port: number): void {
  p[15] = f & 255;
  p[16] = pool >>> 24;
  p[17] = (pool >>> 16) & 255;
  p[18] = (pool >>> 8) & 255;
  p[19] = pool & 255;
  p[22] = port >>> 8;
  p[23] = port & 255;
  p[10] = 0;
  p[11] = 0;
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  const check = ~sum & 0xffff;
  p[10] = check >>> 8;
  p[11] = check & 255;
}

function line(name: string, t: Timing, baseline?: Timing): string {
  const ratio = baseline ? `${(t.ns / baseline.ns).toFixed(2)}x rewrite alone` : 'baseline';
  return (
    `| ${name.padEnd(50)} | ${t.ns.toFixed(0).padStart(5)} ns | ${(1000 / t.ns).toFixed(2).padStart(5)} Mpps | ` +
    `${ratio.padEnd(20)} | ${String(t.gcs).padStart(3)} |`
  );
}

export default async function bench(): Promise<void> {
  const engine = createNatEngine(
    {
      pool: ['203.0.113.0/24'],
      sessionsMax: 1 << 20,
      mappingsMax: 1 << 20,
      subscribersMax: SUBSCRIBERS * 2,
      leasedBlocksMax: SUBSCRIBERS * 2,
    },
    { sink: new CountingEventSink(), random: createSeededRandom(42), startMs: 0 },
  );
  engine.start(0);
  const translator = { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true };
  const step = createPlatStep(
    engine,
    { translator, icmpSource4: 0xcb007100 },
    roleCounterLayout(platDropNames),
    parseRfc6052Prefix('64:ff9b::/96'),
  );
  const rewrite = createStatefulTranslator(translator);
  const out = new Uint8Array(2048);
  const p6 = template6();
  const p4 = template4();
  const lines: string[] = [
    `| ${'case (UDP, 80 B IPv6 / 60 B IPv4)'.padEnd(50)} | per pkt  | rate       | ${'ratio'.padEnd(20)} | GCs |`,
    `|${'-'.repeat(52)}|----------|------------|${'-'.repeat(22)}|-----|`,
  ];

  // New flows: the first packet of each of 1M flows (mapping + session + events + rewrite), recording
  // the pool address and port each got, in the order the random-order runs below visit them.
  const visit = (active: number, stride: number, i: number): number => ((i * 7919) % active) * stride;
  const pool = new Uint32Array(SESSIONS);
  const poolPort = new Uint16Array(SESSIONS);
  step.setNow(0);
  const created = await bestOf(
    1,
    () => {
      let ok = 0;
      for (let i = 0; i < SESSIONS; i++) {
        patch6(p6, visit(SESSIONS, 1, i));
        if (step.process(p6, 0, p6.length, out, 0, false) !== Verdict.Translate) continue;
        ok++;
        pool[i] = ((out[12] << 24) | (out[13] << 16) | (out[14] << 8) | out[15]) >>> 0;
        poolPort[i] = (out[20] << 8) | out[21];
      }
      return ok;
    },
    SESSIONS,
  );
  const active10k = { pool: new Uint32Array(10_000), port: new Uint16Array(10_000) };
  for (let i = 0; i < 10_000; i++) {
    const f = visit(10_000, 100, i);
    patch6(p6, f);
    step.process(p6, 0, p6.length, out, 0, false);
    active10k.pool[i] = ((out[12] << 24) | (out[13] << 16) | (out[14] << 8) | out[15]) >>> 0;
    active10k.port[i] = (out[20] << 8) | out[21];
  }

  // Baseline tuples: one flow's, reused for every packet (the rewrite does the same work for any).
  const tuple64 = new XlatTuple();
  tuple64.src4 = pool[0];
  tuple64.srcPort = poolPort[0];
  tuple64.dst4 = 0xc6336400;
  tuple64.dstPort = 443;
  const tuple46 = new XlatTuple();
  parseRfc6052Prefix('64:ff9b::/96').embed(0xc6336400, tuple46.src6, 0);
  tuple46.srcPort = 443;
  tuple46.dst6.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  tuple46.dstPort = 1024;

  const outbound = (active: number, stride: number) => (): number => {
    let ok = 0;
    for (let i = 0, j = 0; i < PACKETS; i++) {
      patch6(p6, visit(active, stride, j));
      if (step.process(p6, 0, p6.length, out, 0, false) === Verdict.Translate) ok++;
      if (++j === active) j = 0;
    }
    return ok;
  };
  const outboundBaseline = (active: number, stride: number) => (): number => {
    let ok = 0;
    for (let i = 0, j = 0; i < PACKETS; i++) {
      patch6(p6, visit(active, stride, j));
      if (rewrite.v6ToV4(p6, out, tuple64) === Verdict.Translate) ok++;
      if (++j === active) j = 0;
    }
    return ok;
  };
  const inbound =
    (active: number, stride: number, ports: { pool: Uint32Array; port: Uint16Array }) => (): number => {
      let ok = 0;
      for (let i = 0, j = 0; i < PACKETS; i++) {
        patch4(p4, visit(active, stride, j), ports.pool[j], ports.port[j]);
        if (step.process(p4, 0, p4.length, out, 0, false) === Verdict.Translate) ok++;
        if (++j === active) j = 0;
      }
      return ok;
    };
  const inboundBaseline =
    (active: number, stride: number, ports: { pool: Uint32Array; port: Uint16Array }) => (): number => {
      let ok = 0;
      for (let i = 0, j = 0; i < PACKETS; i++) {
        patch4(p4, visit(active, stride, j), ports.pool[j], ports.port[j]);
        if (rewrite.v4ToV6(p4, out, tuple46) === Verdict.Translate) ok++;
        if (++j === active) j = 0;
      }
      return ok;
    };
  const every = { pool, port: poolPort };

  step.setNow(1000);
  const base64 = await bestOf(3, outboundBaseline(SESSIONS, 1), PACKETS);
  lines.push(line('IPv6->IPv4 rewrite alone (tuple known)', base64));
  lines.push(
    line(
      'IPv6->IPv4 established, 1M flows, random order',
      await bestOf(3, outbound(SESSIONS, 1), PACKETS),
      base64,
    ),
  );
  lines.push(
    line(
      'IPv6->IPv4 established, 10k active of 1M flows',
      await bestOf(3, outbound(10_000, 100), PACKETS),
      base64,
    ),
  );
  const base46 = await bestOf(3, inboundBaseline(SESSIONS, 1, every), PACKETS);
  lines.push(line('IPv4->IPv6 rewrite alone (tuple known)', base46));
  lines.push(
    line(
      'IPv4->IPv6 established, 1M flows, random order',
      await bestOf(3, inbound(SESSIONS, 1, every), PACKETS),
      base46,
    ),
  );
  lines.push(
    line(
      'IPv4->IPv6 established, 10k active of 1M flows',
      await bestOf(3, inbound(10_000, 100, active10k), PACKETS),
      base46,
    ),
  );
  lines.push(line('IPv6->IPv4 new flow (first packet), to 1M sessions', created, base64));
  lines.push(
    '\nGCs: garbage collections during the 3 runs of each case (new flows: 1 run; events are objects).',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}
