// The PLAT's packet path with telemetry on next to telemetry off, same traffic, same run (root): the
// plat-io bench's set-up (a C generator floods one IPv6-only client's 64-byte UDP packets over a veth
// into a PLAT namespace, a TUN queue runs the unchanged PLAT queue handler), run alternately without
// telemetry and with it: the metrics endpoint (libs/telemetry, Prometheus text over the worker's counter
// block) scraped every second, and the worker's tracer exporting control-plane spans over OTLP/HTTP to
// a local sink that accepts and discards them. Prints translated packets per second of each run and the
// ratio on/off (issue 12's target: >= 0.98); measurements on a shared machine are indicative only.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../../infra/lab/global-teardown.js';
import { roleCounterLayout } from '../../../libs/dataplane/src/index.js';
import { startMetricsEndpoint } from '../../../libs/telemetry/src/index.js';
import { openTun, startQueues, type TunDevice } from '../../../libs/tun/src/index.js';
import {
  firstPoolAddress,
  natEngineConfig,
  parsePlatConfig,
  platTranslatorConfig,
} from '../src/plat-config.js';
import { type PlatQueueOptions, platGaugeNames } from '../src/plat-queue-handler.js';
import { platDropNames } from '../src/plat-step.js';

const NS_GEN = `x64t-tbg-${process.pid}`;
const NS_PLAT = `x64t-tbp-${process.pid}`;
const DURATION_MS = 3000;
const WARMUP_MS = 500;
/** Runs per mode, alternating off/on so a change of load on the machine hits both alike. */
const PAIRS = 2;

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
    process.stdout.write('skipped: needs root (network namespaces, TUN)\n');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'x64-telemetry-bench-'));
  const binary = join(work, 'udp-flood');
  let tun: TunDevice | undefined;
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

    // The OTLP sink: accepts every export and counts the requests (proof that spans were sent).
    let otlpRequests = 0;
    const otlp = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        otlpRequests++;
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => otlp.listen(0, '127.0.0.1', () => r()));
    const tracesUrl = `http://127.0.0.1:${(otlp.address() as AddressInfo).port}/v1/traces`;

    tun = openTun({ name: 'x64t-tt', vnetHdr: true, netnsPath: `/run/netns/${NS_PLAT}` });
    sh('ip', '-n', NS_PLAT, 'link', 'set', 'x64t-tt', 'up', 'txqueuelen', '4096');
    sh('ip', '-n', NS_PLAT, 'route', 'add', '64:ff9b::/96', 'dev', 'x64t-tt');
    sh('ip', '-n', NS_PLAT, 'route', 'add', '198.51.100.0/24', 'dev', 'x64t-tt');
    const device = tun;
    let scrapes = 0;
    const run = async (name: string, telemetry: boolean): Promise<{ pps: number; offered: number }> => {
      const counters = layout.allocate();
      const queues = await startQueues({
        device,
        handlerModule,
        handlerOptions: { ...options(name, counters), tracesUrl: telemetry ? tracesUrl : undefined },
      });
      const endpoint = telemetry
        ? await startMetricsEndpoint({
            listen: { host: '127.0.0.1', port: 0 },
            counters: { names: layout.names, blocks: [counters], attributes: { role: 'plat' } },
            status: () => ({ role: 'plat' }),
          })
        : null;
      let scraping = endpoint !== null;
      const scraper = (async () => {
        while (scraping) {
          await (await fetch(`${endpoint!.url}/metrics`)).text();
          scrapes++;
          await sleep(1000);
        }
      })();
      try {
        return await measure(new Float64Array(counters));
      } finally {
        scraping = false;
        await scraper;
        await endpoint?.stop();
        await queues.stop(); // the worker's final snapshot is a span, flushed at its stop
      }
    };
    const off: { pps: number; offered: number }[] = [];
    const on: { pps: number; offered: number }[] = [];
    for (let pair = 0; pair < PAIRS; pair++) {
      off.push(await run(`off-${pair}`, false));
      on.push(await run(`on-${pair}`, true));
    }
    await new Promise<void>((r) => otlp.close(() => r()));
    const mean = (runs: { pps: number }[]) => runs.reduce((n, r) => n + r.pps, 0) / runs.length;
    const row = (name: string, runs: { pps: number; offered: number }[]) =>
      `${name.padEnd(44)} ${(mean(runs) / 1000).toFixed(1).padStart(8)} kpps translated  (runs ${runs
        .map((r) => (r.pps / 1000).toFixed(1))
        .join(
          ', ',
        )}; generator offered ${(mean(runs.map((r) => ({ pps: r.offered }))) / 1000).toFixed(0)} kpps)`;
    process.stdout.write(
      `PLAT, 64-byte IPv6/UDP -> IPv4, one flow, one TUN queue, ${DURATION_MS} ms per run, ${PAIRS} runs each, alternating, same run\n` +
        `${row('telemetry off (baseline)', off)}\n` +
        `${row('metrics scraped every 1 s + OTLP tracing on', on)}  x${(mean(on) / mean(off)).toFixed(3)} vs off` +
        `  (${scrapes} scrapes, ${otlpRequests} OTLP exports)\n`,
    );
  } finally {
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
