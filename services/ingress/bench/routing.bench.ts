// Shard routing per packet: IPv6 source -> subscriber's virtual shard -> owner, and IPv4 (pool address,
// port) -> block -> shard -> owner, with blocks leased by 4096 subscribers; next to reading the same
// bytes / the same array word alone in the same run (the baseline a lookup cannot go below).
// Reports ns per lookup and garbage collections (target: none). `npm run bench -- routing`.
import { bestOf } from '../../../test/support/collections.js';
import { NatEventType, validateConfig } from '../../nat-engine/src/index.js';
import { createShardTable, ShardRouter } from '../src/routing/index.js';

const LOOKUPS = 4_000_000;
const SUBSCRIBERS = 4096;

export default async function bench(): Promise<void> {
  const config = validateConfig({ pool: ['203.0.113.0/24', '198.51.100.0/25'] });
  const router = new ShardRouter(createShardTable({ memberCount: 2 }), config);
  // 4096 subscribers each lease one UDP block (on addresses spread over both ranges).
  const pool = new Uint32Array(SUBSCRIBERS);
  const ports = new Uint16Array(SUBSCRIBERS);
  for (let s = 0; s < SUBSCRIBERS; s++) {
    const address = s % 2 === 0 ? 0xcb007100 + ((s >> 1) & 255) : 0xc6336400 + ((s >> 1) & 127);
    const firstPort = 1024 + 512 * ((s >> 9) & 63);
    router.applyEvent({
      type: NatEventType.BlockLeased,
      version: 1,
      shard: 0,
      epoch: 0,
      timeMs: 0,
      protocol: 1,
      address,
      firstPort,
      subscriber: [0x20010db8, s << 8, 0, 0],
    });
    pool[s] = address;
    ports[s] = firstPort + (s & 511);
  }
  // IPv6 packets of 4096 subscribers, 64 bytes apart in one buffer (as a TUN batch leaves them).
  const packets = new Uint8Array(64 * SUBSCRIBERS);
  for (let s = 0; s < SUBSCRIBERS; s++) {
    const o = s * 64;
    packets[o] = 0x60;
    packets.set([0x20, 0x01, 0x0d, 0xb8, 0, s >> 8, s & 255, 0], o + 8); // 2001:db8:0:<s>00::/56
    packets[o + 23] = 1;
  }
  const readBytes = () => {
    let sum = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      const o = (i & (SUBSCRIBERS - 1)) * 64 + 8;
      for (let k = 0; k < 16; k += 4)
        sum ^=
          (packets[o + k] << 24) |
          (packets[o + k + 1] << 16) |
          (packets[o + k + 2] << 8) |
          packets[o + k + 3];
    }
    return sum === 0.5 ? 0 : LOOKUPS;
  };
  const route6 = () => {
    let owners = 0;
    for (let i = 0; i < LOOKUPS; i++)
      owners += router.ownerOf(router.shardOf6(packets, (i & (SUBSCRIBERS - 1)) * 64));
    return owners >= 0 ? LOOKUPS : 0;
  };
  const readWord = () => {
    let sum = 0;
    for (let i = 0; i < LOOKUPS; i++) sum += pool[i & (SUBSCRIBERS - 1)] + ports[i & (SUBSCRIBERS - 1)];
    return sum > 0 ? LOOKUPS : 0;
  };
  let missing = 0;
  const route4 = () => {
    let found = 0;
    for (let i = 0; i < LOOKUPS; i++) {
      const s = i & (SUBSCRIBERS - 1);
      if (router.ownerOf(router.shardOf4(1, pool[s], ports[s])) >= 0) found++;
    }
    missing = LOOKUPS - found;
    return found;
  };
  const base6 = await bestOf(3, readBytes, LOOKUPS);
  const r6 = await bestOf(3, route6, LOOKUPS);
  const base4 = await bestOf(3, readWord, LOOKUPS);
  const r4 = await bestOf(3, route4, LOOKUPS);
  if (missing !== 0) throw new Error(`${missing} IPv4 lookups found no shard`);
  const row = (name: string, t: { ns: number; gcs: number }, base: { ns: number }) =>
    `| ${name.padEnd(58)} | ${t.ns.toFixed(1).padStart(7)} ns | ${base.ns.toFixed(1).padStart(7)} ns | ${(t.ns - base.ns).toFixed(1).padStart(7)} ns | ${String(t.gcs).padStart(3)} |`;
  process.stdout.write(
    [
      `| ${'lookup (4096 subscribers, 1024 virtual shards, 2 members)'.padEnd(58)} | per lookup | baseline   | added      | GCs |`,
      `|${'-'.repeat(60)}|-----------:|-----------:|-----------:|----:|`,
      row('IPv6 source -> subscriber shard -> owner', r6, base6),
      row('IPv4 (pool address, port) -> block -> shard -> owner', r4, base4),
      '\nbaseline: reading the same 16 source bytes as words / the same address and port, no routing; best of 3.',
    ].join('\n') + '\n',
  );
}
