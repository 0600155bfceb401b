// Benchmark of TUN batch I/O on a real kernel (root): packets written into a TUN device in a fresh
// namespace are forwarded straight back out of it and read again. Compares, in one run, batch sizes
// (1 = one N-API call per packet) and 1,500-byte packets against 64 KB TCP super-packets carried
// with IFF_VNET_HDR GSO — the per-byte syscall saving the translator is built on.
import { execFileSync } from 'node:child_process';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../../infra/lab/global-teardown.js';
import {
  loadNative,
  openTun,
  TUN_PACKET_MAX_BYTES,
  type TunDevice,
  VnetFlag,
  VnetGso,
  writeVnetHeader,
} from '../src/index.js';

const NS = 'x64t-bench';
const DURATION_MS = 1500;

function sh(...args: string[]) {
  execFileSync(args[0], args.slice(1), { stdio: 'ignore' });
}

function checksum(bytes: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  for (let i = start; i < end; i += 2) sum += (bytes[i] << 8) | (i + 1 < end ? bytes[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** IPv4/TCP packet 198.51.100.7 -> 198.51.100.8 (routed back into the TUN) with `payload` bytes. */
function tcpPacket(buffer: Uint8Array, at: number, payload: number, partialChecksum: boolean): number {
  const total = 40 + payload;
  const b = buffer;
  b.fill(0, at, at + 40);
  b[at] = 0x45;
  b[at + 2] = total >> 8;
  b[at + 3] = total & 0xff;
  b[at + 6] = 0x40; // DF
  b[at + 8] = 64;
  b[at + 9] = 6;
  b.set([198, 51, 100, 7, 198, 51, 100, 8], at + 12);
  const ipSum = ~checksum(b, at, at + 20) & 0xffff;
  b[at + 10] = ipSum >> 8;
  b[at + 11] = ipSum & 0xff;
  const t = at + 20;
  b[t] = 0x30;
  b[t + 1] = 0x39; // sport 12345
  b[t + 2] = 0x13;
  b[t + 3] = 0x89; // dport 5001
  b[t + 12] = 0x50; // data offset 5
  b[t + 13] = 0x10; // ACK
  b[t + 14] = 0xff;
  b[t + 15] = 0xff;
  b.fill(0x61, t + 20, t + 20 + payload);
  // Pseudo-header sum; complete checksums also cover the segment.
  const pseudo = checksum(b, at + 12, at + 20) + 6 + (total - 20);
  const sum = partialChecksum
    ? checksum(new Uint8Array(0), 0, 0, pseudo)
    : ~checksum(b, t, at + total, pseudo) & 0xffff;
  b[t + 16] = sum >> 8;
  b[t + 17] = sum & 0xff;
  return total;
}

interface Case {
  name: string;
  vnet: boolean;
  payload: number;
  batch: number;
}

function run(tun: TunDevice, c: Case): { pps: number; gbps: number } {
  const native = loadNative();
  const hdr = tun.vnetHdrBytes;
  const out = Buffer.alloc(c.batch * 65_600);
  const offsets = new Uint32Array(c.batch);
  const lengths = new Uint32Array(c.batch);
  for (let i = 0; i < c.batch; i++) {
    offsets[i] = i * 65_600;
    if (hdr > 0) {
      writeVnetHeader(out, offsets[i], {
        flags: VnetFlag.needsCsum,
        gsoType: c.payload > 1460 ? VnetGso.tcpv4 : VnetGso.none,
        hdrLen: 40,
        gsoSize: c.payload > 1460 ? 1448 : 0,
        csumStart: 20,
        csumOffset: 16,
      });
    }
    lengths[i] = hdr + tcpPacket(out, offsets[i] + hdr, c.payload, hdr > 0);
  }
  const inBuffer = Buffer.alloc(c.batch * TUN_PACKET_MAX_BYTES + TUN_PACKET_MAX_BYTES);
  const inOffsets = new Uint32Array(c.batch);
  const inLengths = new Uint32Array(c.batch);
  let packets = 0;
  let bytes = 0;
  const start = performance.now();
  while (performance.now() - start < DURATION_MS) {
    native.writeBatch(tun.fds[0], out, offsets, lengths, c.batch);
    let pending = c.batch;
    while (pending > 0) {
      const n = native.readBatch(
        tun.fds[0],
        inBuffer,
        inOffsets,
        inLengths,
        pending,
        100,
        TUN_PACKET_MAX_BYTES,
      );
      if (n === 0) break; // lost (queue overflow): count only what came back
      for (let i = 0; i < n; i++) bytes += inLengths[i] - hdr;
      packets += n;
      pending -= n;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { pps: packets / seconds, gbps: (bytes * 8) / seconds / 1e9 };
}

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: needs root (network namespace + TUN)\n');
    return;
  }
  const devices: TunDevice[] = [];
  try {
    recordNamespaceOwner(NS);
    sh('ip', 'netns', 'add', NS);
    sh(
      'ip',
      'netns',
      'exec',
      NS,
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.send_redirects=0',
      'net.ipv4.conf.default.send_redirects=0',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    );
    const plain = openTun({ name: 'x64t-b0', netnsPath: `/run/netns/${NS}` });
    const vnet = openTun({ name: 'x64t-b1', vnetHdr: true, netnsPath: `/run/netns/${NS}` });
    devices.push(plain, vnet);
    for (const [dev, net] of [
      ['x64t-b0', '198.51.100.0/24'],
      ['x64t-b1', '198.51.100.0/24'],
    ]) {
      sh('ip', '-n', NS, 'link', 'set', dev, 'up', 'txqueuelen', '4096');
      sh('ip', '-n', NS, 'link', 'set', 'dev', dev, 'mtu', '1500');
      if (dev === 'x64t-b0') sh('ip', '-n', NS, 'route', 'add', net, 'dev', dev);
    }
    const cases: Case[] = [
      { name: '1500 B, batch 1', vnet: false, payload: 1460, batch: 1 },
      { name: '1500 B, batch 8', vnet: false, payload: 1460, batch: 8 },
      { name: '1500 B, batch 64', vnet: false, payload: 1460, batch: 64 },
      { name: 'vnet 64 KB GSO, batch 8', vnet: true, payload: 1448 * 44, batch: 8 },
    ];
    const rows: string[] = [];
    let baseline = 0;
    for (const c of cases) {
      // Route the destination into whichever device this case uses.
      sh('ip', '-n', NS, 'route', 'replace', '198.51.100.0/24', 'dev', c.vnet ? 'x64t-b1' : 'x64t-b0');
      const r = run(c.vnet ? vnet : plain, c);
      if (baseline === 0) baseline = r.gbps;
      rows.push(
        `${c.name.padEnd(26)} ${(r.pps / 1000).toFixed(1).padStart(8)} kpps ${r.gbps.toFixed(2).padStart(7)} Gbit/s  x${(r.gbps / baseline).toFixed(2)}`,
      );
    }
    process.stdout.write(
      `TUN write+forward+read loop, ${DURATION_MS} ms per case (offloads: ${vnet.offloadNames.join(',')})\n`,
    );
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    for (const d of devices) d.close();
    try {
      sh('ip', 'netns', 'del', NS);
    } catch {}
    forgetNamespaceOwner(NS);
  }
}
