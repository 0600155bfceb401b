// Benchmark of AF_XDP I/O against TUN I/O on a real kernel (root), same traffic, same run: a C
// generator (udp-flood.c, AF_PACKET + sendmmsg, compiled here with cc) floods 64-byte IPv4/UDP packets
// over a veth pair into a node namespace, where a trivial JavaScript handler reflects each packet
// (addresses swapped) back out. Case 1: the kernel routes the packets into a TUN device, read and
// written with libs/tun's readBatch/writeBatch. Case 2: libs/xdp's program redirects them to an AF_XDP
// socket, received and sent back in place (zero copy). Prints packets reflected per second and the ratio.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../../infra/lab/global-teardown.js';
import { loadNative as loadTun, openTun, type TunDevice } from '../../tun/src/index.js';
import { openXdpPort, type XdpPort } from '../src/index.js';

const NS_GEN = `x64t-xbg-${process.pid}`;
const NS_NODE = `x64t-xbn-${process.pid}`;
const DURATION_MS = 2000;
const WARMUP_MS = 300;
const BATCH = 64;

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Starts the generator for `seconds`; resolves with the frames it sent. */
function flood(binary: string, dstMac: string, srcMac: string, seconds: number): Promise<number> {
  const child = spawn('ip', ['netns', 'exec', NS_GEN, binary, 'a0', dstMac, srcMac, String(seconds)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d;
  });
  return new Promise((resolve) => child.once('close', () => resolve(Number(out.trim()) || 0)));
}

/** Swaps IPv4 source and destination at `ip` (checksums stay valid). */
function swapIpv4(b: Uint8Array, ip: number): void {
  for (let i = 0; i < 4; i++) {
    const t = b[ip + 12 + i];
    b[ip + 12 + i] = b[ip + 16 + i];
    b[ip + 16 + i] = t;
  }
}

function swapMacs(b: Uint8Array, at: number): void {
  for (let i = 0; i < 6; i++) {
    const t = b[at + i];
    b[at + i] = b[at + 6 + i];
    b[at + 6 + i] = t;
  }
}

interface Rate {
  pps: number;
  /** CPU time (user + system) of this process per reflected packet, in microseconds. */
  cpuUs: number;
}

function rate(packets: number, ms: number, cpu: NodeJS.CpuUsage): Rate {
  return { pps: (packets * 1000) / ms, cpuUs: (cpu.user + cpu.system) / Math.max(packets, 1) };
}

function runTun(tun: TunDevice): Rate {
  const native = loadTun();
  const buffer = Buffer.alloc(BATCH * 2048 + 65_600);
  const offsets = new Uint32Array(BATCH);
  const lengths = new Uint32Array(BATCH);
  const fd = tun.fds[0];
  let reflected = 0;
  const start = performance.now();
  let measuredFrom = 0;
  let counted = 0;
  let cpu = process.cpuUsage();
  for (;;) {
    const now = performance.now();
    if (now - start > WARMUP_MS + DURATION_MS) break;
    if (measuredFrom === 0 && now - start > WARMUP_MS) {
      measuredFrom = now;
      counted = reflected;
      cpu = process.cpuUsage();
    }
    const n = native.readBatch(fd, buffer, offsets, lengths, BATCH, 10, 2048);
    for (let k = 0; k < n; k++) swapIpv4(buffer, offsets[k]);
    if (n > 0) reflected += native.writeBatch(fd, buffer, offsets, lengths, n);
  }
  return rate(reflected - counted, performance.now() - measuredFrom, process.cpuUsage(cpu));
}

function runXdp(port: XdpPort): Rate {
  const { native, handle } = port;
  const umem = port.umem(0);
  const offsets = new Uint32Array(BATCH);
  const lengths = new Uint32Array(BATCH);
  let reflected = 0;
  const start = performance.now();
  let measuredFrom = 0;
  let counted = 0;
  let cpu = process.cpuUsage();
  for (;;) {
    const now = performance.now();
    if (now - start > WARMUP_MS + DURATION_MS) break;
    if (measuredFrom === 0 && now - start > WARMUP_MS) {
      measuredFrom = now;
      counted = reflected;
      cpu = process.cpuUsage();
    }
    const n = native.receive(handle, 0, offsets, lengths, BATCH, 10);
    for (let k = 0; k < n; k++) {
      swapMacs(umem, offsets[k]);
      swapIpv4(umem, offsets[k] + 14);
    }
    if (n > 0) reflected += native.send(handle, 0, offsets, lengths, n);
  }
  return rate(reflected - counted, performance.now() - measuredFrom, process.cpuUsage(cpu));
}

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: needs root (network namespaces, TUN, XDP)\n');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'x64-xdp-bench-'));
  const binary = join(work, 'udp-flood');
  let tun: TunDevice | undefined;
  let port: XdpPort | undefined;
  try {
    sh('cc', '-O2', '-o', binary, fileURLToPath(new URL('./udp-flood.c', import.meta.url)));
    for (const ns of [NS_GEN, NS_NODE]) {
      recordNamespaceOwner(ns);
      sh('ip', 'netns', 'add', ns);
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }
    sh(
      'ip',
      '-n',
      NS_GEN,
      'link',
      'add',
      'a0',
      'numtxqueues',
      '1',
      'numrxqueues',
      '1',
      'type',
      'veth',
      'peer',
      'name',
      'b0',
      'netns',
      NS_NODE,
      'numtxqueues',
      '1',
      'numrxqueues',
      '1',
    );
    sh('ip', '-n', NS_GEN, 'addr', 'add', '192.0.2.1/24', 'dev', 'a0');
    sh('ip', '-n', NS_NODE, 'addr', 'add', '192.0.2.2/24', 'dev', 'b0');
    sh('ip', '-n', NS_GEN, 'link', 'set', 'a0', 'up');
    sh('ip', '-n', NS_NODE, 'link', 'set', 'b0', 'up');
    sh(
      'ip',
      'netns',
      'exec',
      NS_NODE,
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
      'net.ipv4.conf.all.send_redirects=0',
    );
    tun = openTun({ name: 'x64t-bt', netnsPath: `/run/netns/${NS_NODE}` });
    sh('ip', '-n', NS_NODE, 'link', 'set', 'x64t-bt', 'up', 'txqueuelen', '4096');
    sh('ip', '-n', NS_NODE, 'route', 'add', '198.51.100.0/24', 'dev', 'x64t-bt');
    const macOf = (ns: string, dev: string) =>
      JSON.parse(sh('ip', '-j', '-n', ns, 'link', 'show', dev))[0].address as string;
    const genMac = macOf(NS_GEN, 'a0');
    const nodeMac = macOf(NS_NODE, 'b0');
    const seconds = (WARMUP_MS + DURATION_MS + 500) / 1000;

    const tunSent = flood(binary, nodeMac, genMac, seconds);
    const tunPps = runTun(tun);
    const tunOffered = await tunSent;

    port = openXdpPort({
      interfaceName: 'b0',
      netnsPath: `/run/netns/${NS_NODE}`,
      pool4: ['198.51.100.0/24'],
      pref64: ['64:ff9b::/96'],
    });
    const xdpSent = flood(binary, nodeMac, genMac, seconds);
    const xdpPps = runXdp(port);
    const xdpOffered = await xdpSent;
    const stats = port.queueStats(0);

    const row = (name: string, r: Rate, offered: number) =>
      `${name.padEnd(34)} ${(r.pps / 1000).toFixed(1).padStart(8)} kpps reflected ${r.cpuUs.toFixed(2).padStart(6)} µs CPU/packet  (generator offered ${(offered / seconds / 1000).toFixed(0)} kpps)`;
    process.stdout.write(
      `64-byte IPv4/UDP reflected by a trivial JS handler, batches of ${BATCH}, ${DURATION_MS} ms each, same run\n` +
        `${row('TUN readBatch/writeBatch (baseline)', tunPps, tunOffered)}\n` +
        `${row(`AF_XDP receive/send (${port.mode}${port.zeroCopy ? ', zero-copy' : ', copy'})`, xdpPps, xdpOffered)}\n` +
        `AF_XDP / TUN: x${(xdpPps.pps / tunPps.pps).toFixed(2)} packets/s, x${(tunPps.cpuUs / xdpPps.cpuUs).toFixed(2)} less CPU per packet\n` +
        `AF_XDP queue: ${stats.rxDropped} rx dropped, ${stats.rxRingFull} rx ring full, ${stats.fillRingEmpty} fill ring empty, ${stats.txRingFull} tx ring full, ${stats.wakeups} sendto wake-ups, ${stats.polls} polls (whole run incl. warm-up)\n`,
    );
  } finally {
    port?.close();
    tun?.close();
    for (const ns of [NS_GEN, NS_NODE]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {}
      forgetNamespaceOwner(ns);
    }
    rmSync(work, { recursive: true, force: true });
  }
}
