// Observability of a running xlat64 PLAT in the namespace lab (issue 12): a real Prometheus
// (Debian's package) scrapes `xlat64 plat --metrics`, and what it stores matches `xlat64 status`;
// the dashboard page, rendered by headless Chromium, shows the same live numbers; pool use per address
// follows the subscriber's traffic on the address the server sees it from; a restart of the PLAT (with
// `tracesUrl`) is a recovery trace in a real Jaeger running in the PLAT's namespace.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PromSample,
  type RunningServer,
  startJaeger,
  startPrometheus,
} from '../../infra/observability/servers.js';
import { chromium, createE2eLab, REPO, SERVER_V6, XLAT64 } from './support.js';

const METRICS = '127.0.0.1:9464';
/** Jaeger's OTLP/HTTP port inside the PLAT's namespace (started after the lab, before the restart test). */
const OTLP_PORT = 4318;
const lab = createE2eLab('e2e-obs', {
  plat: 'xlat64',
  clat: 'none',
  platArgs: ['--metrics', METRICS],
  platConfigExtra: `tracesUrl: http://127.0.0.1:${OTLP_PORT}/v1/traces\n`,
});
/** Artifacts (the dashboard screenshot) kept after the run, outside the lab's run directory. */
const ARTIFACTS = `${REPO}test-artifacts`;

/** Status counter -> the PromQL that must give the same value (summed over workers). */
const checks: [string, string][] = [
  ['rx.packets', 'sum(xlat64_received_packets_total)'],
  ['tx.packets64', 'sum(xlat64_packets_total{direction="6to4"})'],
  ['tx.packets46', 'sum(xlat64_packets_total{direction="4to6"})'],
  ['tx.bytes64', 'sum(xlat64_bytes_total{direction="6to4"})'],
  ['tx.bytes46', 'sum(xlat64_bytes_total{direction="4to6"})'],
  ['tx.replies', 'sum(xlat64_replies_total)'],
  ['drop.hoplimit64', 'sum(xlat64_drops_total{reason="hoplimit",direction="6to4"})'],
  ['nat.mappings', 'sum(xlat64_nat_mappings)'],
  ['nat.subscribers', 'sum(xlat64_nat_subscribers)'],
  ['nat.subscribersAtSessionLimit', 'sum(xlat64_nat_subscribers_at_limit{limit="sessions"})'],
  ['nat.subscribersAtBlockLimit', 'sum(xlat64_nat_subscribers_at_limit{limit="blocks"})'],
];

function value(samples: PromSample[]): number {
  return samples.length === 1 ? samples[0].value : Number.NaN;
}

describe('Prometheus and the dashboard on a live xlat64 PLAT', () => {
  let prom: RunningServer & { query(expr: string): PromSample[] };

  beforeAll(async () => {
    lab.up();
    for (let i = 0; i < 3; i++)
      lab.check('client', ['curl', '-sS', '-g', '--max-time', '10', `http://[${SERVER_V6}]:8000/`]);
    // Hop limit 2: the PLAT's kernel forwards with 1 left, the translator must answer time exceeded.
    lab.run('client', ['ping', '-6', '-c', '2', '-i', '0.2', '-t', '2', '-W', '1', SERVER_V6]);
    prom = await startPrometheus({ targets: [METRICS], netns: lab.namespaces.plat, port: 9090 });
  });

  afterAll(async () => {
    await prom?.stop();
    lab.teardown();
  });

  it('Prometheus stores the same traffic, drop and state numbers that xlat64 status reports', async () => {
    // Proves the exporter's names and values against the status socket, through a real scrape.
    let mismatches: string[] = [];
    let status: Record<string, number> = {};
    for (let attempt = 0; attempt < 60; attempt++) {
      status = lab.counters('plat');
      mismatches = checks
        .map(([counter, expr]) => [counter, expr, status[counter] ?? 0, value(prom.query(expr))] as const)
        .filter(([, , want, got]) => want !== got)
        .map(([counter, expr, want, got]) => `${counter}=${want} but ${expr}=${got}`);
      if (mismatches.length === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(mismatches).toEqual([]);
    expect(status['tx.packets64']).toBeGreaterThan(0);
    expect(status['tx.packets46']).toBeGreaterThan(0);
    expect(status['drop.hoplimit64']).toBeGreaterThan(0);
    // Every drop reason the status names is a series with that reason.
    const reasons = new Set(
      prom.query('xlat64_drops_total').map((s) => `${s.labels.reason}/${s.labels.direction}`),
    );
    expect(reasons.has('hoplimit/6to4')).toBe(true);
    expect(reasons.has('truncated/4to6')).toBe(true);
  });

  it("a subscriber's new flows raise the use of the pool address the server sees, and only that one", async () => {
    // Proves poolUse (status) and xlat64_pool_* (Prometheus) count leases and ports on the right address.
    type Use = { address: string; leasedBlocks: number; totalBlocks: number; portsInUse: number };
    const peers = () =>
      [...readFileSync(`${lab.runDir}/http.log`, 'utf8').matchAll(/^(\S+) - - /gm)].map((m) => m[1]);
    const address = peers()[0];
    expect(address).toMatch(/^203\.0\.113\.\d+$/);
    expect(new Set(peers())).toEqual(new Set([address])); // one subscriber: paired pooling, one address
    const poolUse = () => lab.roleStatus('plat').poolUse as Use[];
    const before = poolUse();
    expect(before).toHaveLength(256); // 203.0.113.0/24
    const mine = (use: Use[]) => use.find((u) => u.address === address)!;
    expect(mine(before).leasedBlocks).toBeGreaterThanOrEqual(1);
    expect(before.filter((u) => u.leasedBlocks > 0).map((u) => u.address)).toEqual([address]);
    const portsBefore = mine(before).portsInUse;
    for (let i = 0; i < 5; i++)
      lab.check('client', ['curl', '-sS', '-g', '--max-time', '10', `http://[${SERVER_V6}]:8000/?more=${i}`]);
    expect(new Set(peers())).toEqual(new Set([address]));
    // Five more TCP connections, five more mappings (closed ones stay for the transitory timeout); the
    // workers recount ports once a second.
    let after = poolUse();
    for (let i = 0; i < 40 && mine(after).portsInUse < portsBefore + 5; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = poolUse();
    }
    expect(mine(after).portsInUse).toBeGreaterThanOrEqual(portsBefore + 5);
    expect(after.filter((u) => u.portsInUse > 0 || u.leasedBlocks > 0).map((u) => u.address)).toEqual([
      address,
    ]);
    // Prometheus has the same figures for that address.
    const want = mine(poolUse());
    let got: number[] = [];
    for (let i = 0; i < 30; i++) {
      got = [
        value(prom.query(`xlat64_pool_blocks_leased{address="${address}"}`)),
        value(prom.query(`xlat64_pool_ports_used{address="${address}"}`)),
        value(prom.query(`xlat64_pool_blocks_total{address="${address}"}`)),
      ];
      if (got[1] === want.portsInUse) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(got).toEqual([want.leasedBlocks, want.portsInUse, want.totalBlocks]);
    expect(value(prom.query('sum(xlat64_pool_blocks_leased)'))).toBe(want.leasedBlocks);
  });

  it('every query of the Grafana dashboard names a metric this scrape really has', () => {
    // Proves infra/dashboards/xlat64.json cannot drift from the exporter's names.
    const dashboard = JSON.parse(readFileSync(join(REPO, 'infra/dashboards/xlat64.json'), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
      templating: { list: { query?: unknown }[] };
    };
    const exprs = [
      ...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)),
      ...dashboard.templating.list.map((v) => v.query).filter((q): q is string => typeof q === 'string'),
    ];
    const metrics = new Set(exprs.flatMap((e) => e.match(/xlat64_[a-z0-9_]+/g) ?? []));
    expect(metrics.size).toBeGreaterThan(8);
    const missing = [...metrics].filter((m) => prom.query(`count(${m})`).length === 0);
    expect(missing).toEqual([]);
    // And the queries themselves are valid PromQL that Prometheus evaluates.
    for (const expr of exprs.filter((e) => !e.startsWith('label_values')))
      expect(() => prom.query(expr.replaceAll('$instance', '.*'))).not.toThrow();
  });

  it('the dashboard page renders the live counters in headless Chromium', () => {
    // Proves the page polls /status.json and renders its numbers (compared to the status socket).
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = `${ARTIFACTS}/dashboard.png`;
    const dom = chromium(lab.namespaces.plat, `http://${METRICS}/`);
    expect(dom.code, dom.stderr).toBe(0);
    const status = lab.counters('plat');
    const cell = (name: string) =>
      new RegExp(`data-name="${name.replace('.', '\\.')}">([0-9]+)<`).exec(dom.stdout)?.[1];
    expect(dom.stdout).toContain('data-loaded="1"');
    expect(Number(cell('tx.packets64'))).toBe(status['tx.packets64']);
    expect(Number(cell('tx.packets46'))).toBe(status['tx.packets46']);
    expect(Number(cell('drop.hoplimit64'))).toBe(status['drop.hoplimit64']);
    expect(dom.stdout).toContain('plat on ');
    // The pool heat map has a cell per pool address (poolUse reported).
    expect(dom.stdout.match(/data-address="203\.0\.113\.\d+"/g)).toHaveLength(256);
    const png = chromium(lab.namespaces.plat, `http://${METRICS}/`, shot);
    expect(png.code, png.stderr).toBe(0);
    expect(existsSync(shot)).toBe(true);
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
  });

  it('xlat64 top --once prints the totals and top drop reasons the status socket has', () => {
    // Proves top reads the socket and lays out the same totals (after traffic has stopped).
    const socket = `${lab.runDir}/xlat64-plat.sock`;
    const out = lab.check('plat', [
      process.execPath,
      XLAT64,
      'top',
      '--once',
      '--interval',
      '0.5',
      '--socket',
      socket,
    ]);
    const status = lab.counters('plat');
    expect(out).toContain('xlat64 top — plat on ');
    expect(out).toContain(`6to4 ${status['tx.packets64']} pkts`);
    expect(out).toMatch(new RegExp(`hoplimit64 +${status['drop.hoplimit64']} `));
  });

  it('xlat64 top under tmux refreshes in place with the live counters', async () => {
    // Proves the live view: the screen tmux captures after more traffic shows the new total.
    const session = `x64t-obs-top-${process.pid}`;
    const socket = `${lab.runDir}/xlat64-plat.sock`;
    const command = `ip netns exec ${lab.namespaces.plat} ${process.execPath} ${XLAT64} top --interval 0.5 --socket ${socket}`;
    const tmux = (...args: string[]) => spawnSync('tmux', args, { encoding: 'utf8', timeout: 10_000 });
    expect(tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', command).status).toBe(0);
    try {
      lab.check('client', ['curl', '-sS', '-g', '--max-time', '10', `http://[${SERVER_V6}]:8000/`]);
      const want = lab.counters('plat')['tx.packets64'];
      let screen = '';
      for (let i = 0; i < 40 && !screen.includes(`6to4 ${want} pkts`); i++) {
        await new Promise((r) => setTimeout(r, 250));
        screen = tmux('capture-pane', '-p', '-t', session).stdout;
      }
      expect(screen).toContain('xlat64 top — plat on ');
      expect(screen).toContain(`6to4 ${want} pkts`);
      expect(screen).toContain('top drop reasons');
    } finally {
      tmux('kill-session', '-t', session);
    }
  });
  it('a PLAT restarted after kill -9 exports its recovery trace to Jaeger: the log replay inside state.recover', async () => {
    // Proves tracesUrl reaches the workers and the state layer's spans leave a real PLAT (run last: it
    // restarts the PLAT, which resets the counters the tests above compare).
    const jaeger = await startJaeger({ netns: lab.namespaces.plat, otlpPort: OTLP_PORT });
    try {
      // Fresh flows just before the kill, written to the log (nothing pending): whatever snapshot the PLAT
      // took earlier, the tail after it holds batches the restart must replay.
      lab.check('client', ['curl', '-sS', '-g', '--max-time', '10', `http://[${SERVER_V6}]:8000/`]);
      let before = lab.counters('plat');
      for (let i = 0; i < 40 && (before['events.pending'] ?? 0) > 0; i++) {
        await new Promise((r) => setTimeout(r, 250));
        before = lab.counters('plat');
      }
      expect(before['events.pending'] ?? 0).toBe(0); // status leaves out counters at 0
      const { started } = lab.killAndRestartPlat(200);
      type Span = {
        operationName: string;
        spanID: string;
        references: { spanID: string }[];
        tags: { key: string; value: unknown }[];
      };
      type Trace = { spans: Span[]; processes: Record<string, { tags: { key: string; value: unknown }[] }> };
      // The killed PLAT's exporter retries what it could not send before Jaeger ran, so the first start's
      // recovery trace (an empty directory) may arrive too: the restarted PLAT's is the one of its instance.
      const instance = `plat-${started}-q0`;
      const ofRestarted = (t: Trace) =>
        Object.values(t.processes).some((p) =>
          p.tags.some((tag) => tag.key === 'service.instance.id' && tag.value === instance),
        );
      let all: Trace[] = [];
      let traces: Trace[] = [];
      for (let i = 0; i < 60 && traces.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 500));
        all = (
          JSON.parse(jaeger.get('/api/traces?service=xlat64-plat&operation=state.recover')) as {
            data: Trace[];
          }
        ).data;
        traces = all.filter(ofRestarted);
      }
      const spans = traces[0]?.spans ?? [];
      // One worker, one restart: one recovery trace of the restarted instance.
      const shown = all.map((t) => [ofRestarted(t), t.spans.map((s) => [s.operationName, s.tags])]);
      expect(traces.length, JSON.stringify(shown)).toBe(1);
      const recover = spans.find((s) => s.operationName === 'state.recover');
      const replay = spans.find((s) => s.operationName === 'state.log.replay');
      expect(recover).toBeDefined();
      expect(replay?.references.map((r) => r.spanID)).toEqual([recover?.spanID]);
      // The replay folded the batches the killed PLAT had written (the traffic of the tests above).
      const batches = replay?.tags.find((t) => t.key === 'xlat64.log.batches')?.value as number;
      expect(batches, `${JSON.stringify(shown)}; killed PLAT: ${JSON.stringify(before)}`).toBeGreaterThan(0);
      const restored = lab.roleStatus('plat').counters['state.restoredSessions'] ?? 0;
      expect(recover?.tags.find((t) => t.key === 'xlat64.sessions')?.value).toBe(restored);
    } finally {
      await jaeger.stop();
    }
  });
});
