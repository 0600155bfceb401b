// The lab the PLAT data-path benches share (root): two namespaces joined by a veth (a0 in the generator's,
// b0 in the PLAT's), a kernel-speed generator (infra/lab/trafgen-flood.sh: trafgen, AF_PACKET TX_RING)
// flooding 64-byte IPv6/UDP packets of 256 flows from 64 IPv6-only subscribers (2001:db8:0:XX00::1) to
// 64:ff9b::192.0.2.1, an IPv4 sink that never reads, the PLAT queue handler's options, and `measure`:
// translated packets per second while the generator runs.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../../infra/lab/global-teardown.js';
import { type CounterLayout, roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import {
  firstPoolAddress,
  natEngineConfig,
  type PlatConfig,
  parsePlatConfig,
  platTranslatorConfig,
} from '../src/plat-config.js';
import { type PlatQueueOptions, platGaugeNames } from '../src/plat-queue-handler.js';
import { platDropNames } from '../src/plat-step.js';

const WARMUP_MS = 500;

export interface Rate {
  /** Packets translated per second (both directions' tx counters). */
  pps: number;
  /** What the generator sent per second (on a shared machine it can be the limit). */
  offered: number;
  /** CPU time of this process (the PLAT: every thread) per packet translated, in µs. */
  cpuUsPerPacket: number;
  /** That CPU time over the wall time: 1 = the PLAT's CPU was busy all the time. */
  cpuShare: number;
}

/**
 * With two CPUs or more, the PLAT (this process, every thread, the queue workers it starts too) runs on
 * the last CPU and the generator on CPU 0, as `npm run bench:lab` with PIN=1: neither takes the other's
 * CPU, and the PLAT's CPU time per packet is what one core spends on a packet. The translated packets'
 * way on from b0 (a0's IPv4 receive into the sink's socket) still runs in the PLAT's send calls, as it
 * would for any translator writing into this veth. Null with one CPU (nothing pinned).
 */
function pinPlat(): { restore: () => void; generator: string[] } | null {
  const cpus = availableParallelism();
  if (cpus < 2) return null;
  const pid = String(process.pid);
  const before = sh('taskset', '-p', pid).trim().split(/\s+/).pop() as string;
  sh('taskset', '-a', '-p', '-c', String(cpus - 1), pid);
  return {
    restore: () => {
      sh('taskset', '-a', '-p', before, pid);
    },
    generator: ['taskset', '-c', '0'],
  };
}

export interface PlatFloodLab {
  /** The PLAT's namespace (b0 is its interface), for TUN devices, routes and XDP ports. */
  nsPlat: string;
  config: PlatConfig;
  layout: CounterLayout;
  handlerModule: URL;
  /** The queue handler's options for one run (its own state directory) over `counters`. */
  options(name: string, counters: SharedArrayBuffer): PlatQueueOptions;
  /** Floods for warm-up + `durationMs`, returning the rate read from `counters` over `durationMs`. */
  measure(counters: Float64Array): Promise<Rate>;
  sh(...args: string[]): string;
}

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Builds the lab under namespaces `<tag>g-<pid>` and `<tag>p-<pid>`, runs `use`, then tears it all down. */
export async function withPlatFloodLab<T>(
  tag: string,
  durationMs: number,
  use: (lab: PlatFloodLab) => Promise<T>,
): Promise<T> {
  const nsGen = `x64t-${tag}g-${process.pid}`;
  const nsPlat = `x64t-${tag}p-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), `x64-${tag}-bench-`));
  const generator = fileURLToPath(new URL('../../../infra/lab/trafgen-flood.sh', import.meta.url));
  let sink: ReturnType<typeof spawn> | undefined;
  let pinned: ReturnType<typeof pinPlat> = null;
  try {
    pinned = pinPlat();
    try {
      sh('bash', '-c', 'PATH=$PATH:/usr/sbin:/sbin command -v trafgen');
    } catch {
      throw new Error('trafgen is missing: run infra/scripts/ensure-system-deps.sh all (Debian netsniff-ng)');
    }
    for (const ns of [nsGen, nsPlat]) {
      recordNamespaceOwner(ns);
      sh('ip', 'netns', 'add', ns);
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    }
    const oneQueue = ['numtxqueues', '1', 'numrxqueues', '1'];
    sh(
      'ip',
      '-n',
      nsGen,
      'link',
      'add',
      'a0',
      ...oneQueue,
      'type',
      'veth',
      'peer',
      'name',
      'b0',
      'netns',
      nsPlat,
      ...oneQueue,
    );
    sh('ip', '-n', nsGen, 'addr', 'add', '192.0.2.1/24', 'dev', 'a0');
    sh('ip', '-n', nsGen, 'addr', 'add', '2001:db8::1/64', 'dev', 'a0', 'nodad');
    sh('ip', '-n', nsPlat, 'addr', 'add', '192.0.2.2/24', 'dev', 'b0');
    sh('ip', '-n', nsPlat, 'addr', 'add', '2001:db8::2/64', 'dev', 'b0', 'nodad');
    sh('ip', '-n', nsGen, 'link', 'set', 'a0', 'up');
    sh('ip', '-n', nsPlat, 'link', 'set', 'b0', 'up');
    sh(
      'ip',
      'netns',
      'exec',
      nsPlat,
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
        nsGen,
        'python3',
        '-c',
        "import socket,time\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('192.0.2.1', 9)); time.sleep(600)",
      ],
      { stdio: 'ignore' },
    );
    const macOf = (ns: string, dev: string) =>
      JSON.parse(sh('ip', '-j', '-n', ns, 'link', 'show', dev))[0].address as string;
    const genMac = macOf(nsGen, 'a0');
    // The generator's subscribers 2001:db8:0:XX00::1 are behind a0 (replies, ICMP errors).
    sh('ip', '-n', nsPlat, '-6', 'route', 'add', '2001:db8::/48', 'via', '2001:db8::1', 'dev', 'b0');
    const platMac = macOf(nsPlat, 'b0');
    // Both sides know each other: no neighbour resolution inside the measured window.
    sh('ip', '-n', nsPlat, 'neigh', 'replace', '192.0.2.1', 'lladdr', genMac, 'dev', 'b0');
    sh('ip', '-n', nsPlat, 'neigh', 'replace', '2001:db8::1', 'lladdr', genMac, 'dev', 'b0');

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
    const seconds = (WARMUP_MS + durationMs + 500) / 1000;
    const flood = (): Promise<number> => {
      const command = [...(pinned?.generator ?? []), 'ip'];
      const child = spawn(
        command[0],
        [
          ...command.slice(1),
          'netns',
          'exec',
          nsGen,
          'bash',
          generator,
          'a0',
          platMac,
          String(seconds),
          '64:ff9b::c000:201',
          '2001:db8:0',
          '1',
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
      });
      return new Promise((resolve) => child.once('close', () => resolve(Number(out.trim()) || 0)));
    };
    return await use({
      nsPlat,
      config,
      layout,
      handlerModule: new URL('../src/plat-queue-handler.ts', import.meta.url),
      options: (name, counters) => ({
        translator: platTranslatorConfig(config),
        engine: natEngineConfig(config),
        icmpSource4: firstPoolAddress(config),
        stateDir: join(work, `state-${name}`),
        flushIntervalMs: config.flushIntervalMs,
        mtu4: config.mtu4,
        mtu6: config.mtu6,
        counters: [counters],
      }),
      async measure(counters) {
        const sum = () => translated.reduce((n, i) => n + counters[i], 0);
        const sent = flood();
        await sleep(WARMUP_MS);
        const from = sum();
        const cpu = process.cpuUsage();
        const start = performance.now();
        await sleep(durationMs);
        const wallMs = performance.now() - start;
        const packets = sum() - from;
        const used = process.cpuUsage(cpu);
        const cpuUs = used.user + used.system;
        return {
          pps: (packets * 1000) / wallMs,
          offered: (await sent) / seconds,
          cpuUsPerPacket: packets > 0 ? cpuUs / packets : Number.NaN,
          cpuShare: cpuUs / 1000 / wallMs,
        };
      },
      sh,
    });
  } finally {
    pinned?.restore();
    if (sink?.pid) {
      try {
        process.kill(sink.pid, 'SIGKILL');
      } catch {}
    }
    for (const ns of [nsGen, nsPlat]) {
      try {
        sh('ip', 'netns', 'del', ns);
      } catch {}
      forgetNamespaceOwner(ns);
    }
    rmSync(work, { recursive: true, force: true });
  }
}
