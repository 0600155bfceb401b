// The PLAT's batch path end to end without a TUN device: batches of 64 small UDP packets laid out as
// the TUN reader leaves them (one reused read buffer, a 10-byte virtio header in front of each packet,
// packed back to back, offsets and lengths arrays), through BatchTranslator.onBatch with the PLAT
// step (flow key, NAT engine, RFC 7915 rewrite) into a writer that only counts. Established flows in
// both directions, side by side with the batch loop alone (a step that drops every packet) in the
// same process. Reports ns per packet and the garbage collections during the runs (target: none).
// Run with `npm run bench -- batch-translator`.

import { BatchTranslator, type BatchWriter, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { parseRfc6052Prefix, type TranslationResult, Verdict } from '../../../libs/xlat/src/index.js';
import { bestOf, type Timing } from '../../../test/support/collections.js';
import { CountingEventSink, createNatEngine, createSeededRandom } from '../../nat-engine/src/index.js';
import { createPlatStep, platDropNames } from '../src/plat-step.js';

const VNET = 10;
const BATCH = 64;
const FLOWS = 4096;
const PAYLOAD = 32;
const BATCHES_PER_RUN = 20_000;
const READ_BUFFER_BYTES = 1 << 20;

function sum16(b: Uint8Array, from: number, to: number, acc: number): number {
  let s = acc;
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  return s;
}

function fold(s: number): number {
  let x = s;
  while (x > 0xffff) x = (x & 0xffff) + (x >>> 16);
  return x;
}

/** UDP/IPv6 from subscriber 2001:db8:0:<sub>00::1 to 64:ff9b::198.51.100.x port 443; flow id in the payload. */
function outbound6(f: number): Uint8Array {
  const p = new Uint8Array(40 + 8 + PAYLOAD);
  p[0] = 0x60;
  p[5] = 8 + PAYLOAD;
  p[6] = 17;
  p[7] = 64;
  p.set([0x20, 0x01, 0x0d, 0xb8, 0, 0, (f >> 8) & 0xff, 0], 8);
  p[23] = 1;
  p.set([0x00, 0x64, 0xff, 0x9b], 24);
  p.set([198, 51, 100, f & 255], 36);
  const port = 1024 + f;
  p[40] = port >> 8;
  p[41] = port & 255;
  p[42] = 0x01;
  p[43] = 0xbb;
  p[45] = 8 + PAYLOAD;
  p[48] = f >> 8;
  p[49] = f & 255;
  const check = ~fold(sum16(p, 8, 40, 17 + 8 + PAYLOAD) + sum16(p, 40, p.length, 0)) & 0xffff;
  p[46] = check >> 8;
  p[47] = check & 255;
  return p;
}

/** UDP/IPv4 from 198.51.100.x port 443 back to the flow's pool address and port. */
function inbound4(f: number, pool: number, poolPort: number): Uint8Array {
  const p = new Uint8Array(20 + 8 + PAYLOAD);
  p[0] = 0x45;
  p[3] = p.length;
  p[8] = 64;
  p[9] = 17;
  p.set([198, 51, 100, f & 255, pool >>> 24, (pool >>> 16) & 255, (pool >>> 8) & 255, pool & 255], 12);
  const ipCheck = ~fold(sum16(p, 0, 20, 0)) & 0xffff;
  p[10] = ipCheck >> 8;
  p[11] = ipCheck & 255;
  p[20] = 0x01;
  p[21] = 0xbb;
  p[22] = poolPort >> 8;
  p[23] = poolPort & 255;
  p[25] = 8 + PAYLOAD;
  p[28] = f >> 8;
  p[29] = f & 255;
  const check = ~fold(sum16(p, 12, 20, 17 + 8 + PAYLOAD) + sum16(p, 20, p.length, 0)) & 0xffff;
  p[26] = check >> 8;
  p[27] = check & 255;
  return p;
}

interface Batch {
  bytes: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
}

/** Packets back to back, each behind a zeroed virtio header, as readBatch packs them. */
function pack(packets: Uint8Array[]): Batch {
  let size = 0;
  for (const p of packets) size += VNET + p.length;
  const bytes = new Uint8Array(size);
  const offsets = new Uint32Array(packets.length);
  const lengths = new Uint32Array(packets.length);
  let at = 0;
  packets.forEach((p, i) => {
    offsets[i] = at;
    lengths[i] = VNET + p.length;
    bytes.set(p, at + VNET);
    at += VNET + p.length;
  });
  return { bytes, offsets, lengths };
}

class CountingWriter implements BatchWriter {
  packets = 0;
  bytes = 0;
  /** Set during flow setup: every written packet (after its virtio header) is handed here. */
  inspect: ((packet: Uint8Array) => void) | null = null;
  writeBatch(
    _fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
  ): number {
    for (let i = 0; i < count; i++) {
      this.bytes += lengths[i];
      if (this.inspect) this.inspect(buffer.subarray(offsets[i] + VNET, offsets[i] + lengths[i]));
    }
    this.packets += count;
    return count;
  }
}

function line(name: string, t: Timing, baseline?: Timing): string {
  const ratio = baseline ? `${(t.ns / baseline.ns).toFixed(2)}x loop alone` : 'baseline';
  return (
    `| ${name.padEnd(46)} | ${t.ns.toFixed(0).padStart(5)} ns | ${(1000 / t.ns).toFixed(2).padStart(5)} Mpps | ` +
    `${ratio.padEnd(16)} | ${String(t.gcs).padStart(3)} |`
  );
}

export default async function bench(): Promise<void> {
  const engine = createNatEngine(
    { pool: ['203.0.113.0/24'], sessionsMax: 1 << 16, mappingsMax: 1 << 16 },
    { sink: new CountingEventSink(), random: createSeededRandom(42), startMs: 0 },
  );
  engine.start(0);
  const layout = roleCounterLayout(platDropNames);
  const step = createPlatStep(
    engine,
    { translator: { prefix: '64:ff9b::/96', allowNonGlobalIpv4: true }, icmpSource4: 0xcb007100 },
    layout,
    parseRfc6052Prefix('64:ff9b::/96'),
  );
  step.setNow(1000);
  const writer = new CountingWriter();
  const options = { fd: 3, writer, vnetHdrBytes: VNET, mtu4: 1500, mtu6: 1500, layout };
  const batch = new BatchTranslator(step, { ...options, counters: new Float64Array(layout.allocate()) });
  const readBuffer = Buffer.alloc(READ_BUFFER_BYTES);

  // Open every flow (IPv6 first), learning each flow's pool address and port from the output.
  const outboundBatches: Batch[] = [];
  for (let b = 0; b < FLOWS / BATCH; b++) {
    outboundBatches.push(pack(Array.from({ length: BATCH }, (_, i) => outbound6(b * BATCH + i))));
  }
  const pool = new Uint32Array(FLOWS);
  const poolPort = new Uint16Array(FLOWS);
  let opened = 0;
  writer.inspect = (p) => {
    const f = (p[28] << 8) | p[29];
    pool[f] = ((p[12] << 24) | (p[13] << 16) | (p[14] << 8) | p[15]) >>> 0;
    poolPort[f] = (p[20] << 8) | p[21];
    opened++;
  };
  for (const o of outboundBatches) batch.onBatch(o.bytes as Buffer, o.offsets, o.lengths, BATCH);
  writer.inspect = null;
  if (opened !== FLOWS) throw new Error(`${FLOWS - opened} flows were not opened`);
  const inboundBatches: Batch[] = [];
  for (let b = 0; b < FLOWS / BATCH; b++) {
    inboundBatches.push(
      pack(
        Array.from({ length: BATCH }, (_, i) =>
          inbound4(b * BATCH + i, pool[b * BATCH + i], poolPort[b * BATCH + i]),
        ),
      ),
    );
  }

  // Each batch is copied into the one read buffer first, as readBatch fills it.
  const runBatches = (translator: BatchTranslator, batches: Batch[]) => () => {
    const before = writer.packets;
    for (let k = 0; k < BATCHES_PER_RUN; k++) {
      const b = batches[k % batches.length];
      readBuffer.set(b.bytes);
      translator.onBatch(readBuffer, b.offsets, b.lengths, BATCH);
    }
    const written = writer.packets - before;
    if (translator === batch && written !== BATCHES_PER_RUN * BATCH)
      throw new Error(`${BATCHES_PER_RUN * BATCH - written} packets not translated`);
    return BATCHES_PER_RUN * BATCH;
  };

  // The loop alone: a step that drops every packet (virtio header read, counters, the call).
  const dropAll: TranslationResult = { reason: 0, count: 0, lengths: new Int32Array(1), length: 0 };
  const loopAlone = new BatchTranslator(
    { result: dropAll, process: () => Verdict.Drop, reasonCounter: () => 0 },
    { ...options, counters: new Float64Array(layout.allocate()) },
  );

  const packets = BATCHES_PER_RUN * BATCH;
  // Warm up every path into optimised code.
  for (let i = 0; i < 3; i++) {
    runBatches(loopAlone, outboundBatches)();
    runBatches(batch, outboundBatches)();
    runBatches(batch, inboundBatches)();
  }
  const lines = [
    `| ${'case (batches of 64, 80 B IPv6 / 60 B IPv4 UDP)'.padEnd(46)} | per pkt  | rate       | ${'ratio'.padEnd(16)} | GCs |`,
    `|${'-'.repeat(48)}|----------|------------|${'-'.repeat(18)}|-----|`,
  ];
  const base = await bestOf(3, runBatches(loopAlone, outboundBatches), packets);
  lines.push(line('batch loop alone (step drops every packet)', base));
  lines.push(
    line(
      'IPv6->IPv4 established, 4096 flows',
      await bestOf(3, runBatches(batch, outboundBatches), packets),
      base,
    ),
  );
  lines.push(
    line(
      'IPv4->IPv6 established, 4096 flows',
      await bestOf(3, runBatches(batch, inboundBatches), packets),
      base,
    ),
  );
  lines.push(
    `\n${packets} packets per run, best of 3; GCs: garbage collections during the 3 runs of each case.`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}
