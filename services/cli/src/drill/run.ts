// One drill, start to end: the recorder on the server and the flows from the subscribers, every flow
// answered before the fault, the fault, the nodes' status sockets polled for the takeover, the fault
// undone, the flows stopped and their logs analysed. `runDrills` repeats it for a gap distribution.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readStatus, type StatusDocument } from '../../../../libs/dataplane/src/index.js';
import { DrillError } from '../errors.js';
import type { FlowLogLine, FlowSpec, GeneratorOptions, RecorderLogLine, RecorderOptions } from './agent.js';
import { checkFault, type Fault, type InjectedFault, injectFault } from './faults.js';
import { alive, inNetns, signalAndWait, sleep, startDetached, waitUntil } from './processes.js';
import {
  analyseFlow,
  type DrillReport,
  type RepeatReport,
  type SessionsReport,
  summariseRepeats,
} from './report.js';
import type { DrillSteps } from './steps.js';
import { type DrillNode, type DrillTarget, findNode } from './target.js';

export interface DrillOptions {
  target: DrillTarget;
  /** A node id, or 'serving': the first node whose status shows it serving. */
  node: string;
  fault: Fault;
  restore: boolean;
  tcpFlows: number;
  udpFlows: number;
  intervalMs: number;
  /**
   * How long every flow runs, answered, before the fault: longer than the cluster's flush interval, so
   * the drill is about established flows whose sessions have reached the standby.
   */
  warmupMs: number;
  /** From the fault to the restore. */
  observeMs: number;
  /** From the restore to the end of the drill (flows still watched). */
  settleMs: number;
  tcpPort: number;
  udpPort: number;
  fabricPort: number;
  restartTimeoutMs: number;
  /** Where the agents' logs go. */
  workDir: string;
  /** Progress lines (stderr in the command). */
  progress(line: string): void;
  /** The steps as spans and NATS messages to the nodes (drill/steps.ts). */
  steps: DrillSteps;
}

const agentPath = fileURLToPath(new URL('./agent.js', import.meta.url));

function readLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as T);
}

/** A node's status document, or null when it does not answer (3 s: a loaded node answers slowly). */
async function statusOf(node: DrillNode, timeoutMs = 3000): Promise<StatusDocument | null> {
  return readStatus(node.statusSocket, timeoutMs).catch(() => null);
}

/** Whether a node serves: its status shows `state.serving` > 0 (zero counters are left out of the document). */
function serving(doc: StatusDocument | null): boolean {
  return doc !== null && (doc.counters['state.serving'] ?? 0) > 0;
}

/**
 * `nat.sessions` summed over the nodes that serve (a node down or not serving holds none for the
 * cluster), and which nodes serve (two in a one-shard lab would be a split brain worth seeing).
 */
async function servingNodes(nodes: readonly DrillNode[]): Promise<{ sessions: number; ids: string[] }> {
  let sessions = 0;
  const ids: string[] = [];
  for (const node of nodes) {
    const doc = await statusOf(node);
    if (serving(doc)) {
      sessions += doc?.counters['nat.sessions'] ?? 0;
      ids.push(node.id);
    }
  }
  return { sessions, ids };
}

/** How long `--node serving` waits for a node to serve (a takeover or a restart still under way). */
const SERVING_WAIT_MS = 10_000;

async function resolveNode(options: DrillOptions): Promise<DrillNode> {
  if (options.node !== 'serving') return findNode(options.target, options.node);
  const deadline = Date.now() + SERVING_WAIT_MS;
  for (;;) {
    for (const node of options.target.nodes) {
      const doc = await statusOf(node);
      if (serving(doc)) return node;
    }
    if (Date.now() >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new DrillError(
    `--node serving: no node's status showed state.serving > 0 within ${SERVING_WAIT_MS / 1000} s — check that the nodes run and reach NATS (xlat64 status)`,
  );
}

/** Starts the recorder in the server's namespace; resolves when it listens. Returns its PID and log. */
export async function startRecorder(options: DrillOptions): Promise<{ pid: number; log: string }> {
  const log = `${options.workDir}/recorder.jsonl`;
  // The agents append: a work directory used before would mix that run's flows (same ids) into this one's.
  rmSync(log, { force: true });
  const agent: RecorderOptions = {
    mode: 'recorder',
    tcpPort: options.tcpPort,
    udpPort: options.udpPort,
    log,
  };
  const pid = startDetached(
    options.target.server.netns,
    [process.execPath, agentPath, JSON.stringify(agent)],
    `${options.workDir}/recorder.log`,
  );
  await waitUntil(
    () => {
      if (!alive(pid)) throw new DrillError(`the recorder exited; see ${options.workDir}/recorder.log`);
      const [file, ...args] = inNetns(options.target.server.netns, [
        'ss',
        '-ltunH',
        `sport = :${options.tcpPort} or sport = :${options.udpPort}`,
      ]);
      return new Promise<boolean>((resolve) => {
        const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.on('close', () => resolve(out.trim().split('\n').length >= 2));
      });
    },
    'the recorder to listen',
    30_000,
    100,
  );
  return { pid, log };
}

export async function runDrill(
  options: DrillOptions,
  index: number,
  recorderLog: string,
): Promise<DrillReport> {
  const { target } = options;
  const node = await resolveNode(options);
  checkFault(target, node, options.fault);
  const others = target.nodes.filter((n) => n.id !== node.id);
  const specs: FlowSpec[] = [];
  const subscribers = target.client.subscribers;
  for (let i = 0; i < options.tcpFlows; i++)
    specs.push({ id: `d${index}t${i}`, proto: 'tcp', source: subscribers[i % subscribers.length] });
  for (let i = 0; i < options.udpFlows; i++)
    specs.push({
      id: `d${index}u${i}`,
      proto: 'udp',
      source: subscribers[(options.tcpFlows + i) % subscribers.length],
    });
  assert.ok(specs.length > 0, 'a drill runs at least one flow');
  const log = `${options.workDir}/flows-${index}.jsonl`;
  rmSync(log, { force: true });
  const agent: GeneratorOptions = {
    mode: 'flows',
    server: target.server.ipv6,
    tcpPort: options.tcpPort,
    udpPort: options.udpPort,
    intervalMs: options.intervalMs,
    flows: specs,
    log,
  };
  const generator = startDetached(
    target.client.netns,
    [process.execPath, agentPath, JSON.stringify(agent)],
    `${options.workDir}/flows-${index}.log`,
  );
  let fault: InjectedFault | null = null;
  try {
    const { steps } = options;
    const step = { index, node: node.id, fault: options.fault };
    options.progress(
      `drill ${index + 1}: ${specs.length} flows from ${subscribers.length} subscriber(s), waiting for replies`,
    );
    await steps.span('drill.warmup', { 'xlat64.drill.flows': specs.length }, async () => {
      await waitUntil(
        () => {
          if (!alive(generator))
            throw new DrillError(`the flow generator exited; see ${options.workDir}/flows-${index}.log`);
          const counts = new Map<string, number>();
          for (const line of readLines<FlowLogLine>(log))
            if (line.n !== undefined) counts.set(line.flow, (counts.get(line.flow) ?? 0) + 1);
          return specs.every((s) => (counts.get(s.id) ?? 0) >= 3);
        },
        'every flow to be answered three times before the fault (is the node serving? is the server reachable?)',
        30_000,
        100,
      ).catch((error: Error) => {
        const lines = readLines<FlowLogLine>(log);
        const answered = new Set(lines.filter((l) => l.n !== undefined).map((l) => l.flow));
        throw new DrillError(
          `${error.message}; unanswered: ${specs
            .filter((s) => !answered.has(s.id))
            .map((s) => `${s.id} from ${s.source}`)
            .join(', ')}`,
        );
      });

      await sleep(options.warmupMs);
    });
    const baseline = new Map<string, StatusDocument | null>();
    for (const n of target.nodes) baseline.set(n.id, await statusOf(n));
    const servingBefore = await servingNodes(target.nodes);
    const sessionsBefore = servingBefore.sessions;
    const faultAt = Date.now();
    options.progress(`drill ${index + 1}: ${options.fault} of node ${node.id}`);
    fault = await steps.span('drill.fault', { 'xlat64.drill.fault': options.fault }, async () => {
      steps.publish({ ...step, step: 'fault' });
      return injectFault(target, node, options.fault, {
        fabricPort: options.fabricPort,
        restartTimeoutMs: options.restartTimeoutMs,
      });
    });

    // The takeover: another node's takeovers or serving count rises above its reading before the fault.
    let takeoverMs: number | null = null;
    let takeoverBy: string | null = null;
    let watching = true;
    let watchers: Promise<void>[] = [];
    await steps.span('drill.observe', {}, async () => {
      watchers = (options.fault === 'nats-restart' ? target.nodes : others).map(async (n) => {
        const before = baseline.get(n.id);
        const takeovers = before?.counters['state.takeovers'] ?? 0;
        const servingBefore = before?.counters['state.serving'] ?? 0;
        while (watching && takeoverMs === null) {
          const doc = await statusOf(n);
          if (
            doc !== null &&
            ((doc.counters['state.takeovers'] ?? 0) > takeovers ||
              (doc.counters['state.serving'] ?? 0) > servingBefore)
          ) {
            if (takeoverMs === null) {
              takeoverMs = Date.now() - faultAt;
              takeoverBy = n.id;
              steps.publish({ ...step, step: 'takeover', takeoverBy: n.id, takeoverMs });
            }
            return;
          }
          await sleep(20);
        }
      });
      await sleep(options.observeMs);
      steps.annotate({ 'xlat64.takeover.ms': takeoverMs ?? -1, 'xlat64.takeover.by': takeoverBy ?? '' });
    });
    let restoredAt: string | null = null;
    if (options.restore) {
      options.progress(`drill ${index + 1}: restoring (${options.fault})`);
      const injected = fault;
      await steps.span('drill.restore', {}, async () => {
        steps.publish({ ...step, step: 'restore' });
        await injected.restore();
      });
      fault = null;
      restoredAt = new Date().toISOString();
    }
    await steps.span('drill.settle', {}, () => sleep(options.settleMs));
    watching = false;
    await Promise.all(watchers);
    const endAt = Date.now();
    const servingAfter = await servingNodes(target.nodes);
    const sessionsAfter = servingAfter.sessions;
    await signalAndWait(generator, 'SIGTERM', 'the flow generator', 10_000);

    // A flow still alive at the end was answered within its last few requests.
    const tailMs = Math.max(1000, 20 * options.intervalMs);
    const lines = readLines<FlowLogLine>(log);
    const recorded = readLines<RecorderLogLine>(recorderLog);
    const flows = specs.map((spec) =>
      analyseFlow(
        spec,
        lines.filter((l) => l.flow === spec.id),
        recorded,
        faultAt,
        endAt,
        tailMs,
      ),
    );
    const gaps = flows.map((f) => f.gapMs);
    const survived = flows.filter((f) => f.survived).length;
    steps.publish({ ...step, step: 'end', survived, broken: flows.length - survived });
    steps.annotate({ 'xlat64.drill.survived': survived, 'xlat64.drill.broken': flows.length - survived });
    const sessions: SessionsReport = {
      before: sessionsBefore,
      after: sessionsAfter,
      lost: Math.max(0, sessionsBefore - sessionsAfter),
    };
    return {
      node: node.id,
      fault: options.fault,
      faultAt: new Date(faultAt).toISOString(),
      takeoverMs,
      takeoverBy,
      restoredAt,
      observedMs: endAt - faultAt,
      intervalMs: options.intervalMs,
      workDir: options.workDir,
      servingBefore: servingBefore.ids,
      servingAfter: servingAfter.ids,
      sessions,
      flows,
      survived: flows.filter((f) => f.survived).length,
      broken: flows.filter((f) => !f.survived).length,
      maxGapMs: gaps.includes(null) ? null : Math.max(...(gaps as number[])),
    };
  } finally {
    if (alive(generator)) await signalAndWait(generator, 'SIGKILL', 'the flow generator', 10_000);
    // A drill that failed half-way still undoes its fault (a partition left in place would outlive it).
    if (fault !== null && options.restore)
      await fault.restore().catch((error: Error) => options.progress(`restore failed: ${error.message}`));
  }
}

/** `repeat` drills against the same target, one recorder for all; the distribution over every flow. */
export async function runDrills(
  options: DrillOptions,
  repeat: number,
  pauseMs: number,
): Promise<RepeatReport> {
  assert.ok(repeat >= 1);
  const recorder = await startRecorder(options);
  const drills: DrillReport[] = [];
  try {
    for (let i = 0; i < repeat; i++) {
      if (i > 0) await sleep(pauseMs);
      const attributes = {
        'xlat64.drill.index': i,
        'xlat64.drill.fault': options.fault,
        'xlat64.drill.node': options.node,
      };
      drills.push(await options.steps.span('drill', attributes, () => runDrill(options, i, recorder.log)));
    }
  } finally {
    await signalAndWait(recorder.pid, 'SIGTERM', 'the recorder', 10_000).catch(() =>
      signalAndWait(recorder.pid, 'SIGKILL', 'the recorder', 10_000),
    );
  }
  return summariseRepeats(drills);
}
