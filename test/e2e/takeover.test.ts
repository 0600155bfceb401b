// Cluster state through the lab (issue 9): two `xlat64 plat` processes with cluster state (`state:` in the
// config file, as `--state nats://…,redis://…` gives it, with a 3 s detection time) in the
// PLAT namespace, one owning the shard and one hot standby (no routes, following the JetStream subject).
// A long-lived TCP connection and a UDP flow run through the owner; the owner is killed with SIGKILL; the
// standby takes the shard over (epoch + 1 in NATS KV), adds the routes and serves from its replica, so the
// TCP connection continues with no reset and both flows keep their IPv4 address and port at the server.
// The killed node started again comes back as a standby: the live owner keeps the shard. A real Prometheus
// in the namespace scrapes both PLATs' --metrics (replication lag: the owner's acknowledged and
// unacknowledged batches, the standby's apply lag, the takeover) and the values match `xlat64 status`;
// the takeover is one `state.takeover` trace (acquire, catch-up, epoch, serve with the Redis claim) in a
// real Jaeger.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type PromSample,
  type RunningServer,
  startJaeger,
  startPrometheus,
} from '../../infra/observability/servers.js';
import { createStandbyLab, pidAlive } from './helpers/standby-lab.js';
import {
  chromium,
  LABTOOL,
  PY,
  REPO,
  readUdpLog,
  SERVER_V6,
  startUdpServer,
  UDP_PORT,
  waitUntil,
  XLAT64,
} from './support.js';

/** Jaeger's OTLP/HTTP port inside the PLAT's namespace (both cluster PLATs export their spans there). */
const OTLP_PORT = 4318;
/** Jaeger's query UI/API port in the namespace: the PLATs' `tracesUi`, which their dashboards link takeovers to. */
const JAEGER_UI_PORT = 16686;
/**
 * The owner's record unchanged this long = the owner is gone. Longer than the 1 s default: on a loaded
 * machine (the run shares two cores with other suites) a live owner's renewal can be late by a second, and
 * the restarted node must not take the shard from it.
 */
const DETECTION_MS = 3000;
const standby = createStandbyLab('e2e-takeover', {
  platConfigExtra:
    `tracesUrl: http://127.0.0.1:${OTLP_PORT}/v1/traces\n` + `tracesUi: http://127.0.0.1:${JAEGER_UI_PORT}\n`,
  detectionMs: DETECTION_MS,
});
const { lab } = standby;
/** The PLATs' metrics endpoints in the namespace: the first owner (and its restart) and the standby. */
const METRICS = { a: '127.0.0.1:9464', b: '127.0.0.1:9465' };
const TCP_PORT = 9001;

interface Tick {
  reply?: string;
  error?: string;
}

function ticks(path: string): Tick[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Tick);
}

/** `xlat64 plat --state …` (the standby lab's) with its metrics endpoint; returns its PID. */
const startClusterPlat = (name: string, device: string, metrics: string) =>
  standby.startPlat(name, device, ['--metrics', metrics]);
const logOf = standby.logOf;

interface ClusterStatus {
  counters: Record<string, number>;
  replication?: { shard: number; serving: boolean; epoch: number; standbyBatches: number }[];
}

function statusOf(name: string): ClusterStatus | null {
  const result = spawnSync(process.execPath, [XLAT64, 'status', '--socket', standby.socket(name), '--json'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) return null;
  return JSON.parse(result.stdout) as ClusterStatus;
}

function counters(name: string): Record<string, number> | null {
  return statusOf(name)?.counters ?? null;
}

type Span = {
  operationName: string;
  spanID: string;
  references: { spanID: string }[];
  tags: { key: string; value: unknown }[];
};

describe('xlat64 PLAT hot standby takeover (--state nats://…,redis://…)', () => {
  let prom: RunningServer & { query(expr: string): PromSample[] };
  let jaeger: RunningServer;
  /** One series' value at `instance` (the PLAT's metrics address); NaN when Prometheus has no such series. */
  const scraped = (metric: string, instance: string): number => {
    const samples = prom.query(`${metric}{instance="${instance}"}`);
    return samples.length === 1 ? samples[0].value : Number.NaN;
  };
  /** Polls until every Prometheus value equals the PLAT's status counter (counters move between the two reads). */
  const matchStatus = async (name: 'a' | 'b', pairs: [string, string][]) => {
    let mismatches: string[] = [];
    for (let attempt = 0; attempt < 60; attempt++) {
      const status = counters(name) ?? {};
      mismatches = pairs
        .map(
          ([counter, metric]) =>
            [counter, metric, status[counter] ?? 0, scraped(metric, METRICS[name])] as const,
        )
        .filter(([, , want, got]) => want !== got || want === 0)
        .map(([counter, metric, want, got]) => `${counter}=${want} but ${metric}=${got}`);
      if (mismatches.length === 0) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(mismatches).toEqual([]);
  };

  beforeAll(async () => {
    // The lab's own (embedded) PLAT makes way for the two cluster PLATs; NATS and Redis start.
    standby.up();
    startUdpServer(lab);
    lab.background('server', 'tcp-echo-server', [PY, LABTOOL, 'tcp-echo-server', String(TCP_PORT)]);
    waitUntil(
      () => lab.run('server', ['ss', '-ltnH', `sport = :${TCP_PORT}`]).stdout.trim() !== '',
      'the TCP echo server to listen',
    );
    jaeger = await startJaeger({
      netns: lab.namespaces.plat,
      otlpPort: OTLP_PORT,
      queryPort: JAEGER_UI_PORT,
    });
    prom = await startPrometheus({
      targets: [METRICS.a, METRICS.b],
      netns: lab.namespaces.plat,
      port: 9090,
    });
  }, 600_000);

  afterAll(async () => {
    await prom?.stop();
    await jaeger?.stop();
    standby.teardown();
  });

  it('keeps a long-lived TCP connection and a UDP flow on the same IPv4 address and port when the owner is killed and the standby takes over', async () => {
    const a = startClusterPlat('a', 'nat64', METRICS.a);
    waitUntil(() => counters('a')?.['state.serving'] === 1, `PLAT a to own its shard\n${logOf('a')}`, 30_000);
    const b = startClusterPlat('b', 'nat64b', METRICS.b);
    waitUntil(() => counters('b') !== null, `PLAT b to answer status\n${logOf('b')}`, 30_000);

    const tcpLog = `${lab.runDir}/tcp-ticker.jsonl`;
    const udpLog = `${lab.runDir}/udp-ticker.jsonl`;
    lab.background('client', 'tcp-ticker', [PY, LABTOOL, 'tcp-ticker', SERVER_V6, String(TCP_PORT), tcpLog]);
    lab.background('client', 'udp-ticker', [PY, LABTOOL, 'udp-ticker', SERVER_V6, String(UDP_PORT), udpLog]);
    try {
      waitUntil(
        () => ticks(tcpLog).length >= 5 && ticks(udpLog).length >= 5,
        'both flows to be answered',
        20_000,
      );
    } catch (error) {
      const routes = lab.run('plat', ['ip', '-6', 'route']).stdout + lab.run('plat', ['ip', 'route']).stdout;
      throw new Error(
        `${(error as Error).message}\n${logOf('a')}\n${JSON.stringify(counters('a'))}\n${routes}`,
      );
    }
    // The standby follows: it has folded the owner's batches (flush interval 1 s) and serves nothing.
    waitUntil(
      () => (counters('b')?.['state.standbyBatches'] ?? 0) >= 2,
      'the standby to fold batches',
      20_000,
    );
    expect(counters('b')?.['state.serving'] ?? 0).toBe(0);
    expect(counters('a')?.['state.epoch']).toBe(1);

    // Replication lag through a real scrape: the owner's acknowledged batches and events, the standby's
    // folded batches with their apply lag, each equal to the PLAT's own status (non-zero).
    await matchStatus('a', [
      ['replication.appendedBatches', 'xlat64_replication_appended_batches_total'],
      ['replication.appendedEvents', 'xlat64_replication_appended_events_total'],
    ]);
    await matchStatus('b', [['replication.standbyLagBatches', 'xlat64_replication_standby_applied_total']]);
    expect(scraped('xlat64_replication_unacked_batches', METRICS.a)).toBeGreaterThanOrEqual(0);
    expect(scraped('xlat64_replication_unacked_bytes', METRICS.a)).toBeGreaterThanOrEqual(0);
    expect(scraped('xlat64_replication_standby_lag_last', METRICS.b)).toBeGreaterThanOrEqual(0);
    expect(scraped('xlat64_replication_standby_lag_time_total', METRICS.b)).toBeGreaterThanOrEqual(0);
    // The status socket names each worker's shard with the same figures.
    const standbyStatus = statusOf('b')?.replication?.[0];
    expect(standbyStatus?.serving).toBe(false);
    expect(standbyStatus?.standbyBatches ?? 0).toBeGreaterThan(0);
    expect(statusOf('a')?.replication?.[0]).toMatchObject({ shard: 0, serving: true, epoch: 1 });
    spawnSync('sleep', ['1.5']); // the latest sessions reach the stream within a flush interval

    const tcpBefore = ticks(tcpLog).length;
    const udpBefore = ticks(udpLog).length;
    process.kill(a, 'SIGKILL');
    waitUntil(() => !pidAlive(a), 'the owner to die');
    waitUntil(
      () => counters('b')?.['state.serving'] === 1,
      `the standby to take over\n${logOf('b')}`,
      30_000,
    );
    const after = counters('b')!;
    expect(after['state.epoch']).toBe(2);
    expect(after['state.takeovers']).toBe(1);

    waitUntil(
      () => ticks(tcpLog).length >= tcpBefore + 10 && ticks(udpLog).length >= udpBefore + 10,
      'both flows to be answered again after the takeover',
      45_000,
    );
    const tcp = ticks(tcpLog);
    expect(tcp.filter((t) => t.error !== undefined)).toEqual([]);
    const tcpPeers = new Set(tcp.map((t) => t.reply?.split(' ')[0]));
    expect(tcpPeers.size).toBe(1);
    expect([...tcpPeers][0]).toMatch(/^203\.0\.113\.\d+:\d+$/);
    const udpSeen = readUdpLog(`${lab.runDir}/udp-server.jsonl`).filter((d) => d.tag.startsWith('tick'));
    expect(new Set(udpSeen.map((d) => `${d.peer}:${d.port}`)).size).toBe(1);
    expect(counters('b')?.['drop.nat.nosession64'] ?? 0).toBe(0);

    // The takeover in the standby's metrics, as Prometheus scraped them.
    await matchStatus('b', [['state.takeovers', 'xlat64_state_takeovers_total']]);
    expect(scraped('xlat64_state_takeover_duration', METRICS.b)).toBeGreaterThan(0);
    // One trace for the takeover: state.takeover with its steps as children, the Redis claim of the
    // shard's blocks inside serve, and the full reconcile after it in the same trace.
    // (PLAT a's own start took the free shard at epoch 1: a trace of its own.)
    const tag = (span: Span | undefined, key: string) => span?.tags.find((t) => t.key === key)?.value;
    const isEpoch2 = (t: { spans: Span[] }) =>
      t.spans.some((s) => s.operationName === 'state.takeover' && tag(s, 'xlat64.epoch') === 2);
    let spans: Span[] = [];
    let traces: { spans: Span[] }[] = [];
    const has = (name: string) => spans.some((s) => s.operationName === name);
    for (let i = 0; i < 60 && !(has('pool.claim.redis') && has('pool.reconcile.redis')); i++) {
      await new Promise((r) => setTimeout(r, 500));
      traces = (
        JSON.parse(jaeger.get('/api/traces?service=xlat64-plat&operation=state.takeover')) as {
          data: { spans: Span[] }[];
        }
      ).data.filter(isEpoch2);
      spans = traces[0]?.spans ?? [];
    }
    const shown = JSON.stringify(traces.map((t) => t.spans.map((s) => [s.operationName, s.tags])));
    expect(traces.length, shown).toBe(1);
    const byName = (name: string) => spans.find((s) => s.operationName === name);
    const takeover = byName('state.takeover');
    expect(takeover, shown).toBeDefined();
    const parentOf = (name: string) => byName(name)?.references.map((r) => r.spanID);
    for (const step of [
      'state.ownership.acquire',
      'state.takeover.catchup',
      'state.takeover.epoch',
      'state.takeover.serve',
    ])
      expect(parentOf(step), `${step}: ${shown}`).toEqual([takeover?.spanID]);
    expect(parentOf('pool.claim.redis'), shown).toEqual([byName('state.takeover.serve')?.spanID]);
    expect(has('pool.reconcile.redis'), shown).toBe(true);
    expect(tag(takeover, 'xlat64.epoch')).toBe(2);
    expect(tag(takeover, 'xlat64.takeover.outcome')).toBe('serving');

    // The killed node comes back with the same command: b renews, so a stays a standby.
    const startedA2 = startClusterPlat('a2', 'nat64', METRICS.a);
    waitUntil(() => counters('a2') !== null, `the restarted PLAT to answer status\n${logOf('a2')}`, 30_000);
    spawnSync('sleep', [String(DETECTION_MS / 1000 + 1.5)]); // more than the detection time
    expect(counters('a2')?.['state.serving'] ?? 0, `a2:\n${logOf('a2')}\nb:\n${logOf('b')}`).toBe(0);
    expect(counters('b')?.['state.serving']).toBe(1);

    // A fenced owner follows its shard again: b frozen past the detection time, a2 takes the shard (epoch
    // 3); b, woken, finds its record taken, stops serving and re-opens as a standby; then a2 is killed and
    // b takes the shard once more (epoch 4), the flows still on their address and port.
    process.kill(b, 'SIGSTOP');
    try {
      waitUntil(() => counters('a2')?.['state.serving'] === 1, `a2 to take over\n${logOf('a2')}`, 30_000);
    } finally {
      process.kill(b, 'SIGCONT');
    }
    expect(counters('a2')?.['state.epoch']).toBe(3);
    waitUntil(
      () => (counters('b')?.['state.rejoins'] ?? 0) === 1,
      `b to follow the shard again as a standby\n${logOf('b')}`,
      30_000,
    );
    expect(counters('b')?.['state.serving'] ?? 0).toBe(0);
    expect(logOf('b')).toContain('fenced; following it again as a standby');
    const tcpBeforeSecond = ticks(tcpLog).length;
    const udpBeforeSecond = ticks(udpLog).length;
    process.kill(startedA2, 'SIGKILL');
    waitUntil(() => !pidAlive(startedA2), 'a2 to die');
    waitUntil(
      () => counters('b')?.['state.serving'] === 1,
      `the rejoined standby to take over\n${logOf('b')}`,
      30_000,
    );
    expect(counters('b')?.['state.epoch']).toBe(4);
    waitUntil(
      () => ticks(tcpLog).length >= tcpBeforeSecond + 5 && ticks(udpLog).length >= udpBeforeSecond + 5,
      'both flows to be answered after the second takeover',
      45_000,
    );
    const tcpAll = ticks(tcpLog);
    expect(tcpAll.filter((t) => t.error !== undefined)).toEqual([]);
    expect(new Set(tcpAll.map((t) => t.reply?.split(' ')[0])).size).toBe(1);
    const udpAll = readUdpLog(`${lab.runDir}/udp-server.jsonl`).filter((d) => d.tag.startsWith('tick'));
    expect(new Set(udpAll.map((d) => `${d.peer}:${d.port}`)).size).toBe(1);
  }, 360_000);

  it("b's dashboard in headless Chromium shows its shard serving at the last epoch and its takeovers, fence and rejoin on the timeline, each takeover linked to its trace", () => {
    // Runs after the takeovers above: b took shard 0 at epoch 2, was fenced (a2 took epoch 3), rejoined
    // as a standby and took the shard again at epoch 4.
    const dom = chromium(lab.namespaces.plat, `http://${METRICS.b}/`);
    expect(dom.code, dom.stderr).toBe(0);
    expect(dom.stdout).toContain('data-loaded="1"');
    const status = statusOf('b')!;
    expect(status.replication?.[0]).toMatchObject({ shard: 0, serving: true, epoch: 4 });
    expect(/data-shard-role="0">([a-z]+)</.exec(dom.stdout)?.[1]).toBe('serving');
    expect(Number(/data-shard-epoch="0">(\d+)</.exec(dom.stdout)?.[1])).toBe(4);
    // The timeline, newest first: takeover (epoch 4), rejoin, stopped serving (epoch 2), takeover (epoch 2).
    // (b started as a standby: no event before its first takeover.)
    const events = [
      ...dom.stdout.matchAll(/data-event="([a-z ]+)" data-shard="(\d+)" data-epoch="(\d+)"/g),
    ].map((m) => `${m[1]} ${m[2]}/${m[3]}`);
    expect(events).toHaveLength(4);
    expect(events[0]).toBe('takeover 0/4');
    expect(events[1]).toMatch(/^rejoined as standby 0\/\d+$/);
    expect(events.slice(2)).toEqual(['stopped serving 0/2', 'takeover 0/2']);
    // Each takeover links to Jaeger's search for its trace; the same query on Jaeger's API finds exactly
    // the state.takeover trace of that epoch.
    const links = [...dom.stdout.matchAll(/<a class="trace" href="([^"]+)"/g)].map((m) =>
      m[1].replaceAll('&amp;', '&'),
    );
    expect(links).toHaveLength(2);
    for (const [link, epoch] of [
      [links[0], 4],
      [links[1], 2],
    ] as const) {
      expect(link.startsWith(`http://127.0.0.1:${JAEGER_UI_PORT}/search?`)).toBe(true);
      const found = (
        JSON.parse(jaeger.get(`/api/traces?${link.split('?')[1]}`)) as { data: { spans: Span[] }[] }
      ).data;
      const takeovers = found.flatMap((t) => t.spans.filter((sp) => sp.operationName === 'state.takeover'));
      expect(takeovers.length, link).toBe(1);
      expect(takeovers[0].tags.find((t) => t.key === 'xlat64.epoch')?.value).toBe(epoch);
    }
    const shot = `${REPO}test-artifacts/dashboard-takeover.png`;
    mkdirSync(`${REPO}test-artifacts`, { recursive: true });
    const png = chromium(lab.namespaces.plat, `http://${METRICS.b}/`, shot);
    expect(png.code, png.stderr).toBe(0);
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
  }, 300_000);
});
