// The drill's findings: per flow, the longest interval without a reply around the fault (the traffic
// gap), whether the flow survived on the same IPv4 address and port at the server, and its TCP resets;
// per drill, the time to takeover and the sessions lost; over repeated drills, the gap distribution.
import assert from 'node:assert/strict';
import type { FlowLogLine, FlowSpec, RecorderLogLine } from './agent.js';

export interface FlowReport {
  id: string;
  proto: 'tcp' | 'udp';
  source: string;
  /** Longest interval without a reply from the last reply before the fault to the end; null = never answered again. */
  gapMs: number | null;
  repliesBefore: number;
  repliesAfter: number;
  /** Every source address:port the server saw for this flow (one when the mapping survived). */
  serverSaw: string[];
  resets: number;
  errors: string[];
  survived: boolean;
  /** Why the flow counts as broken (empty when it survived). */
  broken: string;
}

export interface SessionsReport {
  /** `nat.sessions` summed over the serving nodes just before the fault. */
  before: number;
  /** The same at the end of the drill. */
  after: number;
  /** before − after when positive: sessions no serving node holds any more (other traffic moves it too). */
  lost: number;
}

export interface DrillReport {
  node: string;
  fault: string;
  faultAt: string;
  /** From the fault to another node reporting it took over (state.takeovers / state.serving rose); null = none seen. */
  takeoverMs: number | null;
  takeoverBy: string | null;
  restoredAt: string | null;
  observedMs: number;
  intervalMs: number;
  /** Where the flows' and the recorder's logs are. */
  workDir: string;
  /** Nodes whose status showed them serving just before the fault, and at the end. */
  servingBefore: string[];
  servingAfter: string[];
  sessions: SessionsReport;
  flows: FlowReport[];
  survived: number;
  broken: number;
  maxGapMs: number | null;
}

export interface Distribution {
  count: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

export interface RepeatReport {
  drills: DrillReport[];
  /** Gaps of every flow in every drill (flows never answered again are counted in `broken`, not here). */
  gapMs: Distribution;
  takeoverMs: Distribution;
  flows: number;
  broken: number;
}

/**
 * Analyses one flow's log lines against the fault time. A flow counts as answered at the end when its
 * last reply is at most `tailMs` old when the drill ends (a reply in flight just after the fault is not
 * survival).
 */
export function analyseFlow(
  spec: FlowSpec,
  lines: readonly FlowLogLine[],
  recorded: readonly RecorderLogLine[],
  faultAtMs: number,
  endAtMs: number,
  tailMs: number,
): FlowReport {
  assert.ok(endAtMs >= faultAtMs, 'the drill ends after its fault');
  const replies = lines.filter((l) => l.n !== undefined).map((l) => ({ t: l.t, peer: l.peer ?? '' }));
  replies.sort((a, b) => a.t - b.t);
  const before = replies.filter((r) => r.t <= faultAtMs);
  const after = replies.filter((r) => r.t > faultAtMs);
  const errors = lines.filter((l) => l.event === 'error').map((l) => l.code ?? 'error');
  const closed = lines.some((l) => l.event === 'closed');
  const resets = errors.filter((code) => code === 'ECONNRESET').length;
  const serverSaw = [
    ...new Set(
      recorded.filter((r) => r.flow === spec.id && r.proto === spec.proto).map((r) => `${r.peer}:${r.port}`),
    ),
  ];
  let gapMs: number | null = null;
  if (after.length > 0) {
    let previous = before.length > 0 ? before[before.length - 1].t : faultAtMs;
    gapMs = 0;
    for (const reply of after) {
      gapMs = Math.max(gapMs, reply.t - previous);
      previous = reply.t;
    }
    gapMs = Math.max(gapMs, endAtMs - previous);
  }
  const replyPeers = new Set(replies.map((r) => r.peer));
  const reasons: string[] = [];
  if (before.length === 0) reasons.push('no reply before the fault');
  if (after.length === 0) reasons.push('no reply after the fault');
  else if (endAtMs - after[after.length - 1].t > tailMs)
    reasons.push(`no reply in the last ${Math.round(endAtMs - after[after.length - 1].t)} ms`);
  if (resets > 0) reasons.push(`${resets} reset(s)`);
  const otherErrors = errors.filter((code) => code !== 'ECONNRESET');
  if (otherErrors.length > 0) reasons.push(`error ${otherErrors.join(', ')}`);
  if (closed && resets === 0) reasons.push('connection closed');
  if (serverSaw.length > 1 || replyPeers.size > 1)
    reasons.push(`server saw ${[...new Set([...serverSaw, ...replyPeers])].join(' and ')}`);
  return {
    id: spec.id,
    proto: spec.proto,
    source: spec.source,
    gapMs: gapMs === null ? null : Math.round(gapMs),
    repliesBefore: before.length,
    repliesAfter: after.length,
    serverSaw,
    resets,
    errors,
    survived: reasons.length === 0,
    broken: reasons.join('; '),
  };
}

/** Nearest-rank percentile of the values (null when there are none). */
export function percentile(values: readonly number[], p: number): number | null {
  assert.ok(p > 0 && p <= 100);
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function distribution(values: readonly number[]): Distribution {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.length === 0 ? null : Math.max(...values),
  };
}

export function summariseRepeats(drills: DrillReport[]): RepeatReport {
  const gaps: number[] = [];
  const takeovers: number[] = [];
  let flows = 0;
  let broken = 0;
  for (const drill of drills) {
    for (const flow of drill.flows) {
      flows++;
      if (!flow.survived) broken++;
      if (flow.gapMs !== null) gaps.push(flow.gapMs);
    }
    if (drill.takeoverMs !== null) takeovers.push(drill.takeoverMs);
  }
  return { drills, gapMs: distribution(gaps), takeoverMs: distribution(takeovers), flows, broken };
}

const ms = (value: number | null): string => (value === null ? '—' : `${value} ms`);

/** The readable summary of one drill. */
export function formatDrill(report: DrillReport): string {
  const lines = [
    `drill: ${report.fault} of node ${report.node} at ${report.faultAt} (ticks every ${report.intervalMs} ms, observed ${report.observedMs} ms)`,
    `  takeover: ${report.takeoverMs === null ? 'none seen' : `${report.takeoverMs} ms (node ${report.takeoverBy})`}` +
      `; restored: ${report.restoredAt ?? 'no'}`,
    `  serving: before ${report.servingBefore.join(', ') || 'none'}, after ${report.servingAfter.join(', ') || 'none'}`,
    `  sessions: before ${report.sessions.before}, after ${report.sessions.after}, lost ${report.sessions.lost}`,
    `  logs: ${report.workDir}`,
    `  flows: ${report.survived} survived, ${report.broken} broken; longest gap ${ms(report.maxGapMs)}`,
  ];
  for (const flow of report.flows) {
    lines.push(
      `  ${flow.survived ? 'ok    ' : 'BROKEN'} ${flow.proto} ${flow.id.padEnd(8)} from ${flow.source.padEnd(20)} gap ${ms(flow.gapMs).padEnd(8)}` +
        ` server saw ${flow.serverSaw.join(', ') || 'nothing'}` +
        ` (${flow.repliesBefore}/${flow.repliesAfter} replies before/after)${flow.broken === '' ? '' : `: ${flow.broken}`}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The readable summary of repeated drills: the distribution first, then one line per drill. */
export function formatRepeats(report: RepeatReport): string {
  const lines = [
    `${report.drills.length} drills, ${report.flows} flows, ${report.broken} broken`,
    `  gap:      p50 ${ms(report.gapMs.p50)}, p99 ${ms(report.gapMs.p99)}, max ${ms(report.gapMs.max)} (${report.gapMs.count} flows)`,
    `  takeover: p50 ${ms(report.takeoverMs.p50)}, p99 ${ms(report.takeoverMs.p99)}, max ${ms(report.takeoverMs.max)} (${report.takeoverMs.count} drills)`,
  ];
  for (const [i, drill] of report.drills.entries()) {
    lines.push(
      `  #${i + 1} ${drill.fault} ${drill.node}: takeover ${ms(drill.takeoverMs)}, longest gap ${ms(drill.maxGapMs)}, ${drill.broken} broken`,
    );
  }
  return `${lines.join('\n')}\n`;
}
