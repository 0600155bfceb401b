// Drill steps on NATS: `xlat64 drill` publishes each step of a failover drill (the fault, the takeover
// it saw, the restore, the end) on one subject, with the W3C trace context of the step's span in the
// message headers; every PLAT with cluster state follows the subject, puts the step on its dashboard's
// timeline and records its own `drill.step.observed` span in the drill's trace. So one drill is one
// trace across the drill and the nodes. Plain NATS (no JetStream): a node that is down misses the step.
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { injectTraceContext } from '../../../libs/telemetry/src/index.js';

export const DRILL_STEPS_SUBJECT = 'xlat64.drill.steps';

export const drillStepNames = ['fault', 'takeover', 'restore', 'end'] as const;
export type DrillStepName = (typeof drillStepNames)[number];

export interface DrillStep {
  /** The drill run (one `xlat64 drill` invocation) and the drill's index in it. */
  drill: string;
  index: number;
  step: DrillStepName;
  /** The faulted node and the fault. */
  node: string;
  fault: string;
  /** ISO time of the step at the drill. */
  at: string;
  /** takeover: the node that reported it and the time since the fault. */
  takeoverBy?: string;
  takeoverMs?: number;
  /** end: flows that survived and broke. */
  survived?: number;
  broken?: number;
}

/** Publishes a step (fire and forget: buffered while NATS reconnects) with the active span's trace context. */
export function publishDrillStep(nc: NatsConnection, step: DrillStep): void {
  const h = headers();
  injectTraceContext(h);
  nc.publish(DRILL_STEPS_SUBJECT, JSON.stringify(step), { headers: h });
}

/** The step in a message, or a reason it is not one (a node counts and skips what it cannot read). */
export function parseDrillStep(data: Uint8Array): DrillStep | string {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return 'not JSON';
  }
  if (typeof raw !== 'object' || raw === null) return 'not an object';
  const r = raw as Record<string, unknown>;
  for (const field of ['drill', 'node', 'fault', 'at'] as const)
    if (typeof r[field] !== 'string') return `${field} is not a string`;
  if (typeof r.index !== 'number') return 'index is not a number';
  if (!(drillStepNames as readonly unknown[]).includes(r.step))
    return `unknown step ${JSON.stringify(r.step)}`;
  const step: DrillStep = {
    drill: r.drill as string,
    index: r.index,
    step: r.step as DrillStepName,
    node: r.node as string,
    fault: r.fault as string,
    at: r.at as string,
  };
  if (typeof r.takeoverBy === 'string') step.takeoverBy = r.takeoverBy;
  if (typeof r.takeoverMs === 'number') step.takeoverMs = r.takeoverMs;
  if (typeof r.survived === 'number') step.survived = r.survived;
  if (typeof r.broken === 'number') step.broken = r.broken;
  return step;
}
