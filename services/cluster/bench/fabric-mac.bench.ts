// Cost of the fabric's MAC per forwarded packet: seal (GENEVE header + MAC) and open (member, MAC,
// replay window, epoch checks) with keyed BLAKE2s and with HMAC-SHA-256, against the same framing
// without a MAC (authenticate: false, the baseline), alternating in one process, for small and MTU-sized inner packets. Prints
// ns per packet (median of rounds, spread), the ratio and the garbage collections during the runs.
// Run with `npm run bench -- fabric`.
import { measure } from '../../../test/support/collections.js';
import {
  FABRIC_ACCEPT,
  FABRIC_HEADER_BYTES,
  FabricCodec,
  type FabricMacAlgorithm,
  nextTable,
  ownerOf,
} from '../src/index.js';

const ROUNDS = 7;
const PACKETS_PER_ROUND = 50_000;
const KEY = { id: 1, secretHex: '42'.repeat(32) };

function pair(
  authenticate: boolean,
  mac: FabricMacAlgorithm = 'blake2s',
): { sender: FabricCodec; receiver: FabricCodec; shard: number; epoch: number } {
  const table = nextTable(null, ['node-a', 'node-b'], 1024);
  const sender = new FabricCodec({ nodeId: 'node-a', keys: [KEY], authenticate, mac });
  const receiver = new FabricCodec({ nodeId: 'node-b', keys: [KEY], authenticate, mac });
  const peers = [
    { nodeId: 'node-a', host: '127.0.0.1', port: 1 },
    { nodeId: 'node-b', host: '127.0.0.1', port: 2 },
  ];
  sender.setMembers(peers);
  receiver.setMembers(peers);
  receiver.setShardView(table);
  const shard = [...Array(1024).keys()].find((s) => ownerOf(table, s) === 'node-b') as number;
  return { sender, receiver, shard, epoch: table.epoch[shard] };
}

/** ns per packet for one round of seal + open. */
function round(p: ReturnType<typeof pair>, payload: Uint8Array, frame: Uint8Array): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < PACKETS_PER_ROUND; i++) {
    const length = p.sender.seal(frame, payload, payload.length, p.shard, p.epoch);
    if (p.receiver.open(frame, length, '127.0.0.1') !== FABRIC_ACCEPT) throw new Error('bench frame refused');
  }
  return Number(process.hrtime.bigint() - started) / PACKETS_PER_ROUND;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

export default async function bench(): Promise<void> {
  const rows: string[] = [];
  for (const size of [64, 1280]) {
    const payload = new Uint8Array(size).fill(0x5a);
    payload[0] = 0x60;
    const frame = new Uint8Array(FABRIC_HEADER_BYTES + size);
    const variants = [
      { name: 'none', codec: pair(false), ns: [] as number[], gc: 0 },
      { name: 'blake2s', codec: pair(true, 'blake2s'), ns: [] as number[], gc: 0 },
      { name: 'hmac-sha256', codec: pair(true, 'hmac-sha256'), ns: [] as number[], gc: 0 },
    ];
    for (const v of variants) round(v.codec, payload, frame); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const v of variants) {
        // measure() waits for the GC entries of this run, so a collection is charged to the run that caused it.
        const run = await measure(() => round(v.codec, payload, frame));
        v.ns.push(run.value);
        v.gc += run.collections;
      }
    }
    const base = median(variants[0].ns);
    const spread = (v: number[]) => `${Math.min(...v).toFixed(0)}–${Math.max(...v).toFixed(0)}`;
    for (const v of variants) {
      const m = median(v.ns);
      rows.push(
        `| ${size} B | ${v.name} | ${m.toFixed(0)} (${spread(v.ns)}) | +${(m - base).toFixed(0)} | ${(m / base).toFixed(2)}× | ${v.gc} |`,
      );
    }
  }
  process.stdout.write(
    [
      `fabric seal + open per forwarded packet, ns (median of ${ROUNDS} rounds of ${PACKETS_PER_ROUND}, min–max), same process`,
      '| inner packet | MAC | seal + open ns/packet (min–max) | MAC adds | ratio to no MAC (baseline) | GCs in the runs |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'),
  );
}
