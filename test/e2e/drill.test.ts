// `xlat64 drill` against the two-node hot-standby lab (helpers/standby-lab.ts): a target file names the
// owner and the standby, the PLAT namespace's NATS and Redis, the client's subscriber addresses and the
// server. Killing the owner under generated TCP and UDP flows reports every flow survived with one IPv4
// address and port at the server, a finite gap and the standby's takeover time (exit 0); killing the
// owner with no standby running reports the flows broken (exit 1); a bad target file is refused naming
// the field. One lab for the file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startJaeger } from '../../infra/observability/servers.js';
import { createStandbyLab, pidAlive } from './helpers/standby-lab.js';
import { chromium, waitUntil, XLAT64 } from './support.js';

/** Jaeger in the PLAT namespace: the PLATs' and the drill's OTLP/HTTP port, and the UI the dashboards link to. */
const OTLP_PORT = 4318;
const JAEGER_UI_PORT = 16686;
/** PLAT b's dashboard (in the PLAT namespace). */
const METRICS_B = '127.0.0.1:9465';
const standby = createStandbyLab('e2e-drill', {
  platConfigExtra: `tracesUrl: http://127.0.0.1:${OTLP_PORT}/v1/traces\ntracesUi: http://127.0.0.1:${JAEGER_UI_PORT}\n`,
});
const { lab } = standby;
/** The client's own address and two more in its /64 (the PLAT reaches them on the link). */
const SUBSCRIBERS = ['2001:db8:1::2', '2001:db8:1::a', '2001:db8:1::b'];

interface FlowReport {
  id: string;
  proto: string;
  gapMs: number | null;
  serverSaw: string[];
  resets: number;
  survived: boolean;
  broken: string;
  repliesAfter: number;
}

interface DrillReport {
  node: string;
  fault: string;
  takeoverMs: number | null;
  takeoverBy: string | null;
  restoredAt: string | null;
  sessions: { before: number; after: number; lost: number };
  servingBefore: string[];
  servingAfter: string[];
  flows: FlowReport[];
  survived: number;
  broken: number;
  maxGapMs: number | null;
}

/** `xlat64 drill` (in the PLAT namespace: the target's NATS URL and Jaeger are on its loopback). */
function drill(args: readonly string[]): { code: number | null; report: DrillReport | null; output: string } {
  // The agents' logs go into the lab's run directory, removed with the lab.
  const workDir = mkdtempSync(`${standby.lab.runDir}/drill-`);
  const result = spawnSync(
    'ip',
    ['netns', 'exec', lab.namespaces.plat, process.execPath, XLAT64, 'drill', ...args, '--work-dir', workDir],
    { encoding: 'utf8', timeout: 180_000 },
  );
  const output = `exit ${result.status ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;
  let report: DrillReport | null = null;
  try {
    report = JSON.parse(result.stdout) as DrillReport;
  } catch {
    report = null;
  }
  return { code: result.status, report, output };
}

type Span = {
  traceID: string;
  operationName: string;
  spanID: string;
  processID: string;
  references: { spanID: string }[];
  tags: { key: string; value: unknown }[];
};
type Trace = { traceID: string; spans: Span[]; processes: Record<string, { serviceName: string }> };

describe('xlat64 drill against the two-node takeover lab', () => {
  let target = '';
  let jaeger: RunningServer;

  beforeAll(async () => {
    standby.up();
    jaeger = await startJaeger({
      netns: lab.namespaces.plat,
      otlpPort: OTLP_PORT,
      queryPort: JAEGER_UI_PORT,
    });
    for (const address of SUBSCRIBERS.slice(1))
      lab.check('client', ['ip', '-6', 'addr', 'add', `${address}/64`, 'dev', 'c0', 'nodad']);
    standby.startPlat('a', 'nat64');
    waitUntil(
      () => standby.counters('a')?.['state.serving'] === 1,
      `PLAT a to own its shard\n${standby.logOf('a')}`,
      30_000,
    );
    standby.startPlat('b', 'nat64b', ['--metrics', METRICS_B]);
    waitUntil(() => standby.counters('b') !== null, `PLAT b to answer status\n${standby.logOf('b')}`, 30_000);
    target = standby.writeTarget({ a: 'nat64', b: 'nat64b' }, SUBSCRIBERS);
  }, 180_000);

  afterAll(async () => {
    await jaeger?.stop();
    standby.teardown();
  });

  it('refuses a target file with a bad field, naming it', () => {
    // Proves the target is validated before anything is touched: the field and the fix are named.
    const doc = JSON.parse(readFileSync(target, 'utf8'));
    doc.server.ipv4 = '2001:db8::1';
    const bad = `${lab.runDir}/bad-target.json`;
    writeFileSync(bad, JSON.stringify(doc));
    const { code, output } = drill(['--target', bad, '--node', 'a', '--fault', 'kill']);
    expect(code, output).toBe(2);
    expect(output).toContain('server.ipv4 must be an IPv4 address');
    expect(pidAlive(Number(readFileSync(standby.pidFile('a'), 'utf8')))).toBe(true);
  });

  it('reports every flow surviving a kill -9 of the owner with the same IPv4 address and port, and the takeover time', () => {
    // Proves the drill's success report: the standby takes over, each flow's gap is finite, the server saw one pool address:port per flow.
    const killed = Number(readFileSync(standby.pidFile('a'), 'utf8'));
    const { code, report, output } = drill([
      '--target',
      target,
      '--node',
      'a',
      '--fault',
      'kill',
      '--tcp',
      '3',
      '--udp',
      '3',
      '--observe',
      '4000',
      '--settle',
      '2000',
      '--traces-url',
      `http://127.0.0.1:${OTLP_PORT}/v1/traces`,
      '--json',
    ]);
    const why = `${output}\n--- a ---\n${standby.logOf('a').slice(-3000)}\n--- b ---\n${standby.logOf('b').slice(-3000)}`;
    expect(report, why).not.toBeNull();
    expect(
      report?.flows.filter((f) => !f.survived),
      why,
    ).toEqual([]);
    expect(code, why).toBe(0);
    expect(report?.flows).toHaveLength(6);
    expect(report?.takeoverBy).toBe('b');
    expect(report?.servingBefore).toEqual(['a']);
    expect(report?.servingAfter).toEqual(['b']);
    expect(report?.takeoverMs).toBeGreaterThan(0);
    for (const flow of report?.flows ?? []) {
      expect(flow.serverSaw, flow.id).toHaveLength(1);
      expect(flow.serverSaw[0], flow.id).toMatch(/^203\.0\.113\.\d+:\d+$/);
      expect(flow.gapMs, flow.id).not.toBeNull();
      expect(flow.resets, flow.id).toBe(0);
      expect(flow.repliesAfter, flow.id).toBeGreaterThan(0);
    }
    expect(new Set(report?.flows.map((f) => f.serverSaw[0])).size).toBe(6);
    // The drill undid the fault: the killed node runs again (a new PID, written back) as the standby.
    expect(report?.restoredAt).not.toBeNull();
    const restarted = Number(readFileSync(standby.pidFile('a'), 'utf8'));
    expect(restarted).not.toBe(killed);
    expect(pidAlive(restarted)).toBe(true);

    // The drill is one trace: its steps as spans, and PLAT b's `drill.step.observed` for each step it
    // received over NATS, each a child of the drill's span that published it (context in the headers).
    let traces: Trace[] = [];
    const observedSteps = (t: Trace) =>
      t.spans
        .filter((sp) => sp.operationName === 'drill.step.observed')
        .map((sp) => sp.tags.find((tag) => tag.key === 'xlat64.drill.step')?.value);
    for (let i = 0; i < 60; i++) {
      traces = (
        JSON.parse(jaeger.get('/api/traces?service=xlat64-drill&operation=drill')) as { data: Trace[] }
      ).data;
      if (traces.length === 1 && observedSteps(traces[0]).length >= 4) break;
      spawnSync('sleep', ['0.5']);
    }
    const shown = JSON.stringify(traces.map((t) => t.spans.map((sp) => [sp.operationName, sp.processID])));
    expect(traces.length, shown).toBe(1);
    const [drillTrace] = traces;
    const names = drillTrace.spans.map((sp) => sp.operationName);
    for (const step of [
      'drill',
      'drill.warmup',
      'drill.fault',
      'drill.observe',
      'drill.restore',
      'drill.settle',
    ])
      expect(names, shown).toContain(step);
    // b saw every step (a was killed at the fault; its restart may have seen the last ones too).
    expect(new Set(observedSteps(drillTrace)), shown).toEqual(
      new Set(['fault', 'takeover', 'restore', 'end']),
    );
    const drillSpans = new Set(
      drillTrace.spans
        .filter((sp) => sp.operationName.startsWith('drill') && sp.operationName !== 'drill.step.observed')
        .map((sp) => sp.spanID),
    );
    for (const observed of drillTrace.spans.filter((sp) => sp.operationName === 'drill.step.observed')) {
      expect(drillTrace.processes[observed.processID].serviceName).toBe('xlat64-plat');
      expect(drillSpans.has(observed.references[0]?.spanID), shown).toBe(true);
    }

    // b's dashboard shows the steps on its timeline, each linked to the drill's trace.
    const dom = chromium(lab.namespaces.plat, `http://${METRICS_B}/`);
    expect(dom.code, dom.stderr).toBe(0);
    const steps = [...dom.stdout.matchAll(/data-drill-step="([a-z]+)">([^<]*)</g)].map((m) => m[1]);
    expect(steps).toEqual(['end', 'restore', 'takeover', 'fault']);
    expect(dom.stdout).toContain('taken over by b after');
    const links = [...dom.stdout.matchAll(/href="(http:\/\/127\.0\.0\.1:16686\/trace\/[0-9a-f]+)"/g)].map(
      (m) => m[1],
    );
    expect(links).toEqual(Array(4).fill(`http://127.0.0.1:${JAEGER_UI_PORT}/trace/${drillTrace.traceID}`));
  }, 240_000);

  it('restarts NATS under live flows (nats-restart) and reports the flows kept their address and port', () => {
    // Proves the nats-restart fault: every NATS server is stopped and started again from its own argv (new PID in its pid file) while the data plane keeps serving.
    const natsPidFile = `${lab.runDir}/state-nats.pid`;
    const before = Number(readFileSync(natsPidFile, 'utf8'));
    const { code, report, output } = drill([
      '--target',
      target,
      '--node',
      'serving',
      '--fault',
      'nats-restart',
      '--tcp',
      '2',
      '--udp',
      '2',
      '--warmup',
      '1500',
      '--observe',
      '2000',
      '--settle',
      '3000',
      '--json',
    ]);
    const why = `${output}\n--- b ---\n${standby.logOf('b').slice(-3000)}`;
    expect(report, why).not.toBeNull();
    expect(
      report?.flows.filter((f) => !f.survived),
      why,
    ).toEqual([]);
    expect(code, why).toBe(0);
    const after = Number(readFileSync(natsPidFile, 'utf8'));
    expect(after).not.toBe(before);
    expect(pidAlive(after)).toBe(true);
    expect(lab.run('plat', ['ss', '-ltnH', 'sport = :4222']).stdout.trim()).not.toBe('');
  }, 240_000);

  it('reports the flows broken and exits 1 when the owner is killed with no standby running', () => {
    // Proves the report is not constant: with nothing to take over, no flow is answered after the fault.
    // Under heavy load a 1 s detection time can move the shard back and forth: wait for one owner.
    let owner = '';
    try {
      waitUntil(
        () => {
          owner =
            standby.counters('a')?.['state.serving'] === 1
              ? 'a'
              : standby.counters('b')?.['state.serving'] === 1
                ? 'b'
                : '';
          return owner !== '';
        },
        'a node to serve',
        60_000,
      );
    } catch (error) {
      // Nobody serving for a minute is an outage: show both nodes' last log lines (ownership, NATS).
      throw new Error(
        `${(error as Error).message}\n--- a ---\n${standby.logOf('a').slice(-3000)}\n--- b ---\n${standby.logOf('b').slice(-3000)}`,
      );
    }
    const standbyPid = Number(readFileSync(standby.pidFile(owner === 'a' ? 'b' : 'a'), 'utf8'));
    process.kill(standbyPid, 'SIGKILL');
    waitUntil(() => !pidAlive(standbyPid), 'the standby to die');
    const { code, report, output } = drill([
      '--target',
      target,
      '--node',
      'serving',
      '--fault',
      'kill',
      '--tcp',
      '2',
      '--udp',
      '2',
      '--warmup',
      '500',
      '--observe',
      '3000',
      '--settle',
      '0',
      '--no-restore',
      '--json',
    ]);
    expect(report, output).not.toBeNull();
    expect(code, output).toBe(1);
    expect(report?.servingBefore).toEqual([report?.node]);
    expect(report?.takeoverMs).toBeNull();
    expect(report?.restoredAt).toBeNull();
    expect(report?.broken).toBe(4);
    // No flow answered after the fault has a gap (null); one whose last reply was in flight at the kill
    // has the silence since then, most of the window.
    expect(report?.maxGapMs === null || (report?.maxGapMs ?? 0) >= 2500, String(report?.maxGapMs)).toBe(true);
    for (const flow of report?.flows ?? []) {
      expect(flow.survived, flow.id).toBe(false);
      // No reply after the kill, or only one in flight at the kill and none since (the report says how
      // long the flow has been silent: the whole observation window but the first moments).
      expect(flow.broken, flow.id).toMatch(/no reply (after the fault|in the last \d+ ms)/);
      const silentMs = Number(/in the last (\d+) ms/.exec(flow.broken ?? '')?.[1] ?? 3000);
      expect(silentMs, `${flow.id}: ${flow.broken}`).toBeGreaterThanOrEqual(2500); // of the 3,000 ms observed
    }
    expect(report?.servingAfter).toEqual([]);
    expect(report?.sessions.after).toBe(0);
    expect(report?.sessions.lost).toBe(report?.sessions.before);
  }, 240_000);
});
