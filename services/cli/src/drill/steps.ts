// A drill's steps as spans and as NATS messages. With --traces-url each drill is one trace (service
// xlat64-drill): `drill` ⊃ `drill.warmup`, `drill.fault`, `drill.observe`, `drill.restore`, `drill.settle`.
// Each step is also published on the cluster's NATS (services/state drill-steps.ts) with the step span's
// trace context in the headers, so the nodes put it on their timelines and join the same trace.
import type { Attributes, Tracer } from '@opentelemetry/api';
import {
  annotateSpan,
  controlPlaneTracer,
  startTracing,
  type Tracing,
  traced,
} from '../../../../libs/telemetry/src/index.js';
import { connectNats, type DrillStep, publishDrillStep } from '../../../state/src/index.js';
import type { DrillTarget } from './target.js';

type NatsConnection = Awaited<ReturnType<typeof connectNats>>;

/** How long the drill waits for NATS before it goes on without publishing its steps. */
const CONNECT_TIMEOUT_MS = 3000;

export class DrillSteps {
  private constructor(
    private readonly tracing: Tracing | null,
    private readonly nc: NatsConnection | null,
    /** This invocation's id: the drills' messages name it. */
    readonly run: string,
  ) {}

  /** Starts the tracer (with a URL) and connects to the target's NATS (if any; a failure is reported, not fatal). */
  static async open(
    target: DrillTarget,
    tracesUrl: string | undefined,
    progress: (line: string) => void,
  ): Promise<DrillSteps> {
    const tracing =
      tracesUrl === undefined
        ? null
        : startTracing({
            serviceName: 'xlat64-drill',
            otlpUrl: tracesUrl,
            resource: { 'service.instance.id': `drill-${process.pid}` },
          });
    let nc: NatsConnection | null = null;
    if (target.nats.length > 0) {
      const url = target.nats.map((n) => n.url).join(',');
      let timer: NodeJS.Timeout | undefined;
      try {
        nc = await Promise.race([
          connectNats({ url, name: 'xlat64-drill' }),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no answer in ${CONNECT_TIMEOUT_MS} ms`)),
              CONNECT_TIMEOUT_MS,
            );
          }),
        ]);
      } catch (error) {
        progress(`drill steps are not published to the nodes: NATS ${url}: ${(error as Error).message}`);
      } finally {
        clearTimeout(timer);
      }
    }
    return new DrillSteps(tracing, nc, new Date().toISOString());
  }

  private get tracer(): Tracer {
    return this.tracing?.tracer ?? controlPlaneTracer();
  }

  /** Runs `work` in a span named `name`, a child of the active one. */
  span<T>(name: string, attributes: Attributes, work: () => Promise<T>): Promise<T> {
    return traced(this.tracer, name, attributes, work);
  }

  /** Sets attributes on the active span (results known at the end of a step). */
  annotate(attributes: Attributes): void {
    annotateSpan(attributes);
  }

  /** Tells the nodes (within the active span's trace). */
  publish(step: Omit<DrillStep, 'drill' | 'at'>): void {
    if (this.nc === null || this.nc.isClosed()) return;
    publishDrillStep(this.nc, { drill: this.run, at: new Date().toISOString(), ...step });
  }

  async close(): Promise<void> {
    await this.nc?.drain().catch(() => {});
    await this.tracing?.shutdown().catch(() => {});
  }
}
