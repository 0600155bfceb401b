// A real Prometheus (Debian's package) scrapes the metrics endpoint built over per-worker counter
// blocks: the stored series carry OTel-style names, a worker attribute, drop reasons split by
// direction, and follow the SharedArrayBuffers as a worker changes them (read at scrape time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PromSample,
  type RunningServer,
  startPrometheus,
} from '../../../infra/observability/servers.js';
import { type MetricsEndpoint, startMetricsEndpoint } from '../src/index.js';

const names = [
  'rx.packets',
  'tx.packets64',
  'tx.bytes64',
  'tx.packets46',
  'drop.truncated46',
  'drop.version',
  'nat.sessions',
];
const blocks = [new SharedArrayBuffer(8 * names.length), new SharedArrayBuffer(8 * names.length)];
const worker0 = new Float64Array(blocks[0]);
const worker1 = new Float64Array(blocks[1]);

async function until(prom: { query(e: string): PromSample[] }, expr: string, want: number): Promise<number> {
  let last = Number.NaN;
  for (let i = 0; i < 100; i++) {
    const samples = prom.query(expr);
    last = samples.length === 1 ? samples[0].value : Number.NaN;
    if (last === want) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  return last;
}

describe('Prometheus scrapes the counter metrics', () => {
  let endpoint: MetricsEndpoint;
  let prom: RunningServer & { query(e: string): PromSample[] };

  beforeAll(async () => {
    worker0.set([10, 6, 600, 4, 1, 2, 5]);
    worker1.set([3, 2, 150, 1, 0, 0, 1]);
    endpoint = await startMetricsEndpoint({
      listen: { host: '127.0.0.1', port: 0 },
      counters: { names, blocks, attributes: { role: 'plat' } },
    });
    prom = await startPrometheus({ targets: [`127.0.0.1:${endpoint.address.port}`] });
  });

  afterAll(async () => {
    await prom?.stop();
    await endpoint?.stop();
  });

  it('stores each worker and direction under OTel-style names and tracks later changes', async () => {
    // Proves the names, the worker/direction/reason labels and that values come from the live blocks.
    expect(await until(prom, 'xlat64_packets_total{direction="6to4",worker="0"}', 6)).toBe(6);
    expect(await until(prom, 'sum(xlat64_packets_total{direction="6to4"})', 8)).toBe(8);
    expect(await until(prom, 'sum(xlat64_bytes_total{direction="6to4"})', 750)).toBe(750);
    expect(await until(prom, 'sum(xlat64_packets_total{direction="4to6"})', 5)).toBe(5);
    expect(await until(prom, 'sum(xlat64_received_packets_total)', 13)).toBe(13);
    expect(await until(prom, 'sum(xlat64_drops_total{reason="truncated",direction="4to6"})', 1)).toBe(1);
    expect(await until(prom, 'sum(xlat64_drops_total{reason="version",direction="none"})', 2)).toBe(2);
    expect(await until(prom, 'sum(xlat64_nat_sessions)', 6)).toBe(6);
    expect(await until(prom, 'max_over_time(up{job="xlat64"}[1m])', 1)).toBe(1);
    // The worker writes on; the next scrape sees it without anything else being told.
    worker1[1] = 40;
    expect(await until(prom, 'sum(xlat64_packets_total{direction="6to4"})', 46)).toBe(46);
  });
});
