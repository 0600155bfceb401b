// The PLAT's side of `xlat64 drill` steps (services/state drill-steps.ts): the main thread of a node with
// cluster state subscribes to the steps subject, puts each step on the control-plane timeline (the
// dashboard) with the drill's trace id, and records a `drill.step.observed` span inside the drill's trace
// (W3C trace context from the message headers), so the drill's trace shows which nodes saw each step.
// A message that is not a step is counted and skipped (logged once).
import { context, trace } from '@opentelemetry/api';
import {
  controlPlaneTracer,
  extractTraceContext,
  type HeaderMap,
} from '../../../libs/telemetry/src/index.js';
import { connectNats, DRILL_STEPS_SUBJECT, parseDrillStep } from '../../state/src/index.js';
import type { ControlTimeline } from './control-timeline.js';

const NO_HEADERS: HeaderMap = { get: () => undefined, set: () => {} };

export interface DrillFollower {
  readonly counters: { received: number; refused: number };
  stop(): Promise<void>;
}

export async function followDrillSteps(
  natsUrl: string,
  nodeId: string,
  timeline: ControlTimeline,
  log: (line: string) => void,
): Promise<DrillFollower> {
  const nc = await connectNats({ url: natsUrl, name: `xlat64-${nodeId}-drill` });
  const counters = { received: 0, refused: 0 };
  nc.subscribe(DRILL_STEPS_SUBJECT, {
    callback: (error, m) => {
      if (error !== null) return;
      const step = parseDrillStep(m.data);
      if (typeof step === 'string') {
        if (counters.refused++ === 0)
          log(`plat: a message on ${DRILL_STEPS_SUBJECT} is not a drill step (${step}); skipped`);
        return;
      }
      counters.received++;
      const parent = extractTraceContext(m.headers ?? NO_HEADERS, context.active());
      const traceId = trace.getSpanContext(parent)?.traceId;
      const span = controlPlaneTracer().startSpan(
        'drill.step.observed',
        {
          attributes: {
            'xlat64.node': nodeId,
            'xlat64.drill.step': step.step,
            'xlat64.drill.index': step.index,
            'xlat64.drill.node': step.node,
            'xlat64.drill.fault': step.fault,
          },
        },
        parent,
      );
      span.end();
      timeline.addDrillStep(step, traceId, new Date());
    },
  });
  return {
    counters,
    async stop() {
      await nc.drain().catch(() => {});
    },
  };
}
