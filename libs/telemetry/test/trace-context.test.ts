// W3C trace context crosses a message header map (as NATS headers carry it): the span started on
// the receiving side under the extracted context has the sender's trace id and its span as parent.
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import {
  extractTraceContext,
  type HeaderMap,
  injectTraceContext,
  startTracing,
  traced,
} from '../src/index.js';

class Headers implements HeaderMap {
  readonly map = new Map<string, string>();
  get(name: string) {
    return this.map.get(name);
  }
  set(name: string, value: string) {
    this.map.set(name, value);
  }
  keys() {
    return this.map.keys();
  }
}

const exporter = new InMemorySpanExporter();
const tracing = startTracing({ serviceName: 'xlat64-test', exporter });

afterAll(async () => {
  await tracing.shutdown();
});

describe('trace context in message headers', () => {
  it('carries the trace from the publisher to the subscriber through traceparent', async () => {
    // Proves inject writes a valid traceparent and extract restores it as the remote parent.
    const headers = new Headers();
    let senderTrace = '';
    let senderSpan = '';
    await traced(tracing.tracer, 'lease.request', { 'xlat64.block': 3 }, () => {
      const span = trace.getActiveSpan();
      senderTrace = span?.spanContext().traceId ?? '';
      senderSpan = span?.spanContext().spanId ?? '';
      injectTraceContext(headers);
    });
    expect(headers.get('traceparent')).toBe(`00-${senderTrace}-${senderSpan}-01`);
    const received = extractTraceContext(headers, context.active());
    await traced(tracing.tracer, 'lease.grant', {}, () => undefined, received);
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    const grant = spans.find((s) => s.name === 'lease.grant');
    expect(grant?.spanContext().traceId).toBe(senderTrace);
    expect(grant?.parentSpanContext?.spanId).toBe(senderSpan);
    expect(grant?.parentSpanContext?.isRemote).toBe(true);
  });

  it('starts a fresh trace when the headers carry none or a malformed one', async () => {
    // Proves a bad traceparent is ignored rather than trusted or thrown on.
    const headers = new Headers();
    headers.set('traceparent', '00-zz-not-a-trace-01');
    const received = extractTraceContext(headers, context.active());
    expect(trace.getSpanContext(received)).toBeUndefined();
  });

  it('marks a failed step as an error span and rethrows', async () => {
    // Proves traced() records failures instead of swallowing them.
    await expect(
      traced(tracing.tracer, 'snapshot.write', {}, () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    await tracing.flush();
    const span = exporter.getFinishedSpans().find((s) => s.name === 'snapshot.write');
    expect(span?.status.code).toBe(2);
    expect(span?.events.some((e) => e.name === 'exception')).toBe(true);
  });
});
