// The PLAT's whole data path on small packets, TUN against AF_XDP, same traffic, same run (root): a C
// generator (libs/xdp/bench/udp-flood.c, AF_PACKET sendmmsg) floods one IPv6-only client's 64-byte
// UDP packets to 64:ff9b::192.0.2.1 over a veth into a PLAT namespace, where the unchanged PLAT queue
// handler (NAT engine, RFC 7915, batch writer) translates them to IPv4 and sends them back out:
// first on a TUN queue (kernel routing into and out of the TUN), then on an AF_XDP queue (libs/xdp,
// native mode, Ethernet and neighbour MACs in JavaScript). Prints translated packets per second,
// the ratio, and the generator's offered rate (on a shared machine the generator can be the limit).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../../infra/lab/global-teardown.js';
import { roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { openTun, startQueues, type TunDevice } from '../../../libs/tun/src/index.js';
import { openXdpPort, startXdpQueues, type XdpPort } from '../../../libs/xdp/src/index.js';
import {
  firstPoolAddress,
  natEngineConfig,
  parsePlatConfig,
  platTranslatorConfig,
} from '../src/plat-config.js';
import { type PlatQueueOptions, platGaugeNames } from '../src/plat-queue-handler.js';
import { platDropNames } from '../src/plat-step.js';

const NS_GEN = `x64t-pbg-${process.pid}`;
const NS_PLAT = `x64t-pbp-${process.pid}`;
const DURATION_MS = 2000;
const WARMUP_MS = 500;

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function flood(binary: string, dstMac: string, srcMac: string, seconds: number): Promise<number> {
  const child = spawn('ip', ['netns', 'exec', NS_GEN, binary, 'a0', dstMac, srcMac, String(seconds), '6'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d;
  });
  return new Promise((resolve) => child.once('close', () => resolve(Number(out.trim()) || 0)));
}

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: needs root (network namespaces, TUN, XDP)\n');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'x64-plat-io-'));
  const binary = join(work, 'udp-flood');
  let tun: TunDevice | undefined;
  let port: XdpPort | undefined;
  let sink: ReturnType<typeof spawn> | undefined;
  try {
    sh(
      'cc',
      '-O2',
      '-o',
      binary,
      fileURLToPath(new URL('../../../libs/xdp/bench/udp-flood.c', import.meta.url)),
    );
    for (const ns of [NS_GEN, NS_PLAT]) {
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
      NS_PLAT,
      'numtxqueues',
      '1',
      'numrxqueues',
      '1',
    );
    sh('ip', '-n', NS_GEN, 'addr', 'add', '192.0.2.1/24', 'dev', 'a0');
    sh('ip', '-n', NS_GEN, 'addr', 'add', '2001:db8::1/64', 'dev', 'a0', 'nodad');
    sh('ip', '-n', NS_PLAT, 'addr', 'add', '192.0.2.2/24', 'dev', 'b0');
    sh('ip', '-n', NS_PLAT, 'addr', 'add', '2001:db8::2/64', 'dev', 'b0', 'nodad');
    sh('ip', '-n', NS_GEN, 'link', 'set', 'a0', 'up');
    sh('ip', '-n', NS_PLAT, 'link', 'set', 'b0', 'up');
    sh(
      'ip',
      'netns',
      'exec',
      NS_PLAT,
      'sysctl',
      '-qw',
      'net.ipv4.ip_forward=1',
      'net.ipv6.conf.all.forwarding=1',
      'net.ipv4.conf.all.rp_filter=0',
      'net.ipv4.conf.default.rp_filter=0',
    );
    // The IPv4 server's socket never reads: translated packets are dropped there without ICMP errors.
    sink = spawn(
      'ip',
      [
        'netns',
        'exec',
        NS_GEN,
        'python3',
        '-c',
        "import socket,time\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('192.0.2.1', 9)); time.sleep(600)",
      ],
      { stdio: 'ignore' },
    );
    const macOf = (ns: string, dev: string) =>
      JSON.parse(sh('ip', '-j', '-n', ns, 'link', 'show', dev))[0].address as string;
    const genMac = macOf(NS_GEN, 'a0');
    const platMac = macOf(NS_PLAT, 'b0');
    // Both sides know each other: no neighbour resolution inside the measured window.
    sh('ip', '-n', NS_PLAT, 'neigh', 'replace', '192.0.2.1', 'lladdr', genMac, 'dev', 'b0');
    sh('ip', '-n', NS_PLAT, 'neigh', 'replace', '2001:db8::1', 'lladdr', genMac, 'dev', 'b0');

    const config = parsePlatConfig({
      device: 'b0',
      prefix: '64:ff9b::/96',
      pool4: ['198.51.100.0/24'],
      allowNonGlobalIpv4: true,
      routes: false,
      stateDir: work,
    });
    const layout = roleCounterLayout(platDropNames, platGaugeNames);
    const translated = [layout.index('tx.packets46'), layout.index('tx.packets64')];
    const options = (name: string, counters: SharedArrayBuffer): PlatQueueOptions => ({
      translator: platTranslatorConfig(config),
      engine: natEngineConfig(config),
      icmpSource4: firstPoolAddress(config),
      stateDir: join(work, `state-${name}`),
      flushIntervalMs: config.flushIntervalMs,
      mtu4: config.mtu4,
      mtu6: config.mtu6,
      counters: [counters],
    });
    const handlerModule = new URL('../src/plat-queue-handler.ts', import.meta.url);
    const seconds = (WARMUP_MS + DURATION_MS + 500) / 1000;
    const measure = async (counters: Float64Array): Promise<{ pps: number; offered: number }> => {
      const sum = () => translated.reduce((n, i) => n + counters[i], 0);
      const sent = flood(binary, platMac, genMac, seconds);
      await sleep(WARMUP_MS);
      const from = sum();
      const start = performance.now();
      await sleep(DURATION_MS);
      const pps = ((sum() - from) * 1000) / (performance.now() - start);
      return { pps, offered: (await sent) / seconds };
    };

    // 1. TUN: the kernel routes the PREF64 into the TUN and forwards the translated IPv4 out of b0.
    tun = openTun({ name: 'x64t-pt', vnetHdr: true, netnsPath: `/run/netns/${NS_PLAT}` });
    sh('ip', '-n', NS_PLAT, 'link', 'set', 'x64t-pt', 'up', 'txqueuelen', '4096');
    sh('ip', '-n', NS_PLAT, 'route', 'add', '64:ff9b::/96', 'dev', 'x64t-pt');
    sh('ip', '-n', NS_PLAT, 'route', 'add', '198.51.100.0/24', 'dev', 'x64t-pt');
    const tunCounters = layout.allocate();
    const tunQueues = await startQueues({
      device: tun,
      handlerModule,
      handlerOptions: options('tun', tunCounters),
    });
    const tunRate = await measure(new Float64Array(tunCounters));
    await tunQueues.stop();
    tun.close();
    tun = undefined;

    // 2. AF_XDP on b0: the program redirects the PREF64 and the pool to the socket.
    port = openXdpPort({
      interfaceName: 'b0',
      netnsPath: `/run/netns/${NS_PLAT}`,
      pref64: [config.prefix],
      pool4: config.pool4,
    });
    const xdpCounters = layout.allocate();
    const xdpQueues = await startXdpQueues({
      port,
      handlerModule,
      handlerOptions: options('xdp', xdpCounters),
      netns: NS_PLAT,
    });
    const xdpRate = await measure(new Float64Array(xdpCounters));
    const misses = xdpQueues.stats().neighbourMisses;
    await xdpQueues.stop();
    const mode = port.mode;

    const row = (name: string, r: { pps: number; offered: number }) =>
      `${name.padEnd(30)} ${(r.pps / 1000).toFixed(1).padStart(8)} kpps translated  (generator offered ${(r.offered / 1000).toFixed(0)} kpps)`;
    process.stdout.write(
      `PLAT, 64-byte IPv6/UDP -> IPv4, one flow, one queue, ${DURATION_MS} ms each, same run\n` +
        `${row('TUN queue (baseline)', tunRate)}\n` +
        `${row(`AF_XDP queue (${mode})`, xdpRate)}  x${(xdpRate.pps / tunRate.pps).toFixed(2)} vs TUN` +
        `${misses > 0 ? `  (${misses} neighbour misses)` : ''}\n`,
    );
  } finally {
    port?.close();
    tun?.close();
    if (sink?.pid) {
      try {
        process.kill(sink.pid, 'SIGKILL');
      } catch {}
    }
    for (const ns of [NS_GEN, NS_PLAT]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {}
      forgetNamespaceOwner(ns);
    }
    rmSync(work, { recursive: true, force: true });
  }
}
