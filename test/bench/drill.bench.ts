// `npm run bench -- drill` (root): the failover gap distribution of `xlat64 drill` on the two-node
// hot-standby lab with ownership detection DRILL_DETECTION_MS (default 400): DRILL_REPEAT (default 20)
// kill -9 drills of the serving node, each node started again by the drill and the next drill killing
// whichever serves then, next to baseline drills (`--fault none`: the same flows and windows, nothing
// injected) in the same lab run. Prints p50/p99/max of the per-flow gap (all flows, then TCP and UDP
// apart: TCP adds its retransmission back-off), the takeover time, broken flows, and the ratio
// kill/baseline.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { distribution } from '../../services/cli/src/index.js';
import { createStandbyLab } from '../e2e/helpers/standby-lab.js';
import { waitUntil, XLAT64 } from '../e2e/support.js';

interface Distribution {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

interface RepeatReport {
  gapMs: Distribution;
  takeoverMs: Distribution;
  flows: number;
  broken: number;
  drills: {
    broken: number;
    takeoverMs: number | null;
    maxGapMs: number | null;
    sessions: { before: number; after: number; lost: number };
    flows: { proto: string; gapMs: number | null }[];
  }[];
}

function drills(target: string, workDir: string, fault: string, repeat: number): RepeatReport {
  const args = [
    XLAT64,
    'drill',
    '--target',
    target,
    '--node',
    'serving',
    '--fault',
    fault,
    '--repeat',
    String(repeat),
  ];
  args.push('--work-dir', mkdtempSync(`${workDir}/drill-${fault}-`));
  args.push('--tcp', '4', '--udp', '4', '--observe', '3000', '--settle', '1500', '--pause', '1000', '--json');
  const result = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: repeat * 120_000 });
  try {
    return JSON.parse(result.stdout) as RepeatReport;
  } catch {
    throw new Error(
      `xlat64 drill --fault ${fault} exited ${result.status}: ${result.stdout}${result.stderr}`,
    );
  }
}

const ms = (v: number | null) => (v === null ? '—' : `${v}`);
const ratio = (a: number | null, b: number | null) =>
  a === null || b === null || b === 0 ? '—' : (a / b).toFixed(1);

export default async function drillBench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: the drill bench needs root (network namespaces)\n');
    return;
  }
  const repeat = Number(process.env.DRILL_REPEAT ?? 20);
  // The PLATs' state.detectionMs: the lab's failure detection, set like its BFD (the cluster lab's BIRD
  // detects a hung node in ~0.45 s); DRILL_DETECTION_MS=1000 measures the PLAT's default.
  const detectionMs = Number(process.env.DRILL_DETECTION_MS ?? 400);
  const standby = createStandbyLab('e2e-drill-bench', { detectionMs });
  try {
    standby.up();
    standby.startPlat('a', 'nat64');
    waitUntil(
      () => standby.counters('a')?.['state.serving'] === 1,
      `PLAT a to serve\n${standby.logOf('a')}`,
      30_000,
    );
    standby.startPlat('b', 'nat64b');
    waitUntil(() => standby.counters('b') !== null, `PLAT b to answer\n${standby.logOf('b')}`, 30_000);
    const target = standby.writeTarget({ a: 'nat64', b: 'nat64b' }, ['2001:db8:1::2']);
    const baseline = drills(target, standby.lab.runDir, 'none', Math.min(repeat, 5));
    const kill = drills(target, standby.lab.runDir, 'kill', repeat);
    const rows: [string, RepeatReport][] = [
      ['baseline (no fault)', baseline],
      ['kill -9 of the serving node', kill],
    ];
    process.stdout.write(
      `${repeat} kill drills, ${Math.min(repeat, 5)} baseline drills; 8 flows each (4 TCP, 4 UDP), a request every 50 ms; detection ${detectionMs} ms\n`,
    );
    process.stdout.write(
      '| drills | flows | broken | gap p50 ms | gap p99 ms | gap max ms | takeover p50 ms | takeover p99 ms | takeover max ms |\n',
    );
    process.stdout.write('|---|---|---|---|---|---|---|---|---|\n');
    for (const [name, r] of rows) {
      process.stdout.write(
        `| ${name} | ${r.flows} | ${r.broken} | ${ms(r.gapMs.p50)} | ${ms(r.gapMs.p99)} | ${ms(r.gapMs.max)} | ${ms(r.takeoverMs.p50)} | ${ms(r.takeoverMs.p99)} | ${ms(r.takeoverMs.max)} |\n`,
      );
    }
    for (const proto of ['tcp', 'udp']) {
      const gaps = kill.drills.flatMap((d) =>
        d.flows.filter((f) => f.proto === proto && f.gapMs !== null).map((f) => f.gapMs as number),
      );
      const d = distribution(gaps);
      process.stdout.write(
        `kill, ${proto} flows only: gap p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)} ms (${d.count} flows)\n`,
      );
    }
    const sum = (r: RepeatReport, f: 'before' | 'after' | 'lost') =>
      r.drills.reduce((n, d) => n + d.sessions[f], 0);
    for (const [name, r] of rows)
      process.stdout.write(
        `${name}: sessions on the serving node before the fault ${sum(r, 'before')}, after ${sum(r, 'after')}, lost ${sum(r, 'lost')} (summed over the drills)\n`,
      );
    process.stdout.write(
      `gap ratio kill/baseline: p50 ${ratio(kill.gapMs.p50, baseline.gapMs.p50)}, p99 ${ratio(kill.gapMs.p99, baseline.gapMs.p99)}\n`,
    );
    process.stdout.write(
      `per drill (takeover ms / longest gap ms / broken): ${kill.drills.map((d) => `${ms(d.takeoverMs)}/${ms(d.maxGapMs)}/${d.broken}`).join(' ')}\n`,
    );
  } finally {
    if (process.env.DRILL_KEEP) spawnSync('cp', ['-r', standby.lab.runDir, process.env.DRILL_KEEP]);
    standby.teardown();
  }
}
