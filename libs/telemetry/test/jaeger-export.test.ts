// Control-plane spans reach a real OTLP receiver: Jaeger all-in-one (built from its Go module by
// infra/scripts/ensure-jaeger.sh, cached outside git) receives a snapshot span with a lease span
// inside it over OTLP/HTTP, and its query API returns both in one trace, parent and child.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startJaeger } from '../../../infra/observability/servers.js';
import { startTracing, traced } from '../src/index.js';

interface JaegerTrace {
  traceID: string;
  spans: { operationName: string; spanID: string; references: { refType: string; spanID: string }[] }[];
}

describe('OTLP export to Jaeger', () => {
  let jaeger: RunningServer & { otlpTracesUrl: string };

  // The first run builds Jaeger from source (minutes on 2 cores); later runs find the cached binary.
  beforeAll(async () => {
    jaeger = await startJaeger();
  }, 3_600_000);

  afterAll(async () => {
    await jaeger?.stop();
  });

  it('a snapshot span and the block lease inside it come back from the query API as one trace', async () => {
    // Proves the OTLP exporter, the resource's service name and the parent/child link end to end.
    const service = `xlat64-test-${process.pid}`;
    const tracing = startTracing({ serviceName: service, otlpUrl: jaeger.otlpTracesUrl });
    await traced(tracing.tracer, 'snapshot.write', { 'xlat64.shard': 0 }, async () => {
      await traced(tracing.tracer, 'lease.block', { 'xlat64.block': 7 }, () => undefined);
    });
    await tracing.flush();
    let trace: JaegerTrace | undefined;
    for (let i = 0; i < 60 && trace === undefined; i++) {
      const doc = JSON.parse(jaeger.get(`/api/traces?service=${service}`)) as { data: JaegerTrace[] };
      trace = doc.data.find((t) => t.spans.length === 2);
      if (trace === undefined) await new Promise((r) => setTimeout(r, 500));
    }
    await tracing.shutdown();
    expect(trace).toBeDefined();
    const snapshot = trace?.spans.find((s) => s.operationName === 'snapshot.write');
    const lease = trace?.spans.find((s) => s.operationName === 'lease.block');
    expect(snapshot).toBeDefined();
    expect(lease?.references).toEqual([
      expect.objectContaining({ refType: 'CHILD_OF', spanID: snapshot?.spanID }),
    ]);
  });
});
