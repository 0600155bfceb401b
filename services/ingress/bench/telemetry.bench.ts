// The PLAT's packet path with telemetry on next to telemetry off, same traffic, same run (root): the
// plat-io bench's set-up (a trafgen flood of 64-byte IPv6/UDP packets from 256 flows over a veth
// into a PLAT namespace, a TUN queue runs the unchanged PLAT queue handler), run alternately without
// telemetry and with it: the metrics endpoint (libs/telemetry, Prometheus text over the worker's counter
// block) scraped every second, and the worker's tracer exporting control-plane spans over OTLP/HTTP to
// a local sink that accepts and discards them. Prints translated packets per second of each run and the
// ratio on/off (issue 12's target: >= 0.98); measurements on a shared machine are indicative only.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMetricsEndpoint } from '../../../libs/telemetry/src/index.js';
import { openTun, startQueues, type TunDevice } from '../../../libs/tun/src/index.js';
import { type Rate, withPlatFloodLab } from './plat-flood-lab.js';

const DURATION_MS = 3000;
/** Runs per mode (TELEMETRY_BENCH_PAIRS, default 2), alternating off/on so a change of load hits both alike. */
const PAIRS = Number(process.env.TELEMETRY_BENCH_PAIRS ?? 2);

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: needs root (network namespaces, TUN)\n');
    return;
  }
  await withPlatFloodLab('tb', DURATION_MS, async (lab) => {
    const { sh, nsPlat, layout, handlerModule } = lab;
    let tun: TunDevice | undefined;
    try {
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

      tun = openTun({ name: 'x64t-tt', vnetHdr: true, netnsPath: `/run/netns/${nsPlat}` });
      sh('ip', '-n', nsPlat, 'link', 'set', 'x64t-tt', 'up', 'txqueuelen', '4096');
      sh('ip', '-n', nsPlat, 'route', 'add', '64:ff9b::/96', 'dev', 'x64t-tt');
      sh('ip', '-n', nsPlat, 'route', 'add', '198.51.100.0/24', 'dev', 'x64t-tt');
      const device = tun;
      let scrapes = 0;
      const run = async (name: string, telemetry: boolean): Promise<Rate> => {
        const counters = layout.allocate();
        const queues = await startQueues({
          device,
          handlerModule,
          handlerOptions: { ...lab.options(name, counters), tracesUrl: telemetry ? tracesUrl : undefined },
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
          return await lab.measure(new Float64Array(counters));
        } finally {
          scraping = false;
          await scraper;
          await endpoint?.stop();
          await queues.stop(); // the worker's final snapshot is a span, flushed at its stop
        }
      };
      const off: Rate[] = [];
      const on: Rate[] = [];
      for (let pair = 0; pair < PAIRS; pair++) {
        off.push(await run(`off-${pair}`, false));
        on.push(await run(`on-${pair}`, true));
      }
      await new Promise<void>((r) => otlp.close(() => r()));
      const mean = (runs: { pps: number }[]) => runs.reduce((n, r) => n + r.pps, 0) / runs.length;
      const row = (name: string, runs: Rate[]) =>
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
    }
  });
}
