// Drill steps over the test run's real nats-server (src/drill-steps.ts): a step published inside a span
// arrives with that span's traceparent and reads back field for field; what is not a step is refused
// with the reason, never misread.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTracing, type Tracing, trace, traced } from '../../../libs/telemetry/src/index.js';
import {
  connectNats,
  DRILL_STEPS_SUBJECT,
  type DrillStep,
  parseDrillStep,
  publishDrillStep,
} from '../src/index.js';

type Nc = Awaited<ReturnType<typeof connectNats>>;

describe('drill steps on NATS', () => {
  let nc: Nc;
  let tracing: Tracing;
  beforeAll(async () => {
    nc = await connectNats({ url: inject('natsUrl'), name: 'drill-steps-test' });
    tracing = startTracing({ serviceName: 'drill-steps-test', exporter: new InMemorySpanExporter() });
  });
  afterAll(async () => {
    await nc?.drain();
    await tracing?.shutdown();
  });

  it("carries the step and the publishing span's trace context to a subscriber", async () => {
    const sub = nc.subscribe(DRILL_STEPS_SUBJECT, { max: 1 });
    const step: DrillStep = {
      drill: '2026-12-01T03:00:00.000Z',
      index: 2,
      step: 'takeover',
      node: 'n1',
      fault: 'kill',
      at: '2026-12-01T03:00:05.000Z',
      takeoverBy: 'n2',
      takeoverMs: 1234,
    };
    let traceparent = '';
    await traced(tracing.tracer, 'drill.observe', {}, async () => {
      const span = trace.getActiveSpan()!.spanContext();
      traceparent = `00-${span.traceId}-${span.spanId}-01`;
      publishDrillStep(nc, step);
      await nc.flush();
    });
    for await (const m of sub) {
      expect(m.headers?.get('traceparent')).toBe(traceparent);
      expect(parseDrillStep(m.data)).toEqual(step);
    }
  });

  it('refuses what is not a step, naming the reason', () => {
    const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    const good = {
      drill: 'r',
      index: 0,
      step: 'end',
      node: 'n1',
      fault: 'kill',
      at: 'now',
      survived: 3,
      broken: 1,
    };
    expect(parseDrillStep(bytes(good))).toEqual(good);
    expect(parseDrillStep(new TextEncoder().encode('{'))).toBe('not JSON');
    expect(parseDrillStep(bytes(7))).toBe('not an object');
    expect(parseDrillStep(bytes({ ...good, node: 3 }))).toBe('node is not a string');
    expect(parseDrillStep(bytes({ ...good, index: '0' }))).toBe('index is not a number');
    expect(parseDrillStep(bytes({ ...good, step: 'explode' }))).toBe('unknown step "explode"');
  });
});
