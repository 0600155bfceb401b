// Traces of control-plane work (block leases, snapshots, restarts and recovery; takeovers later):
// a tracer provider exporting over OTLP/HTTP when an endpoint is configured, and `traced`, which
// runs an async step inside a span and records its failure. Never used on the packet path.
import {
  type Attributes,
  type Context,
  context,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  otlpUrl?: string;
  /** Another exporter (tests use the in-memory one). */
  exporter?: SpanExporter;
  resource?: Attributes;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** Exports what is buffered. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function startTracing(options: TracingOptions): Tracing {
  const processors: SpanProcessor[] = [];
  if (options.otlpUrl !== undefined)
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpUrl })));
  if (options.exporter !== undefined) processors.push(new BatchSpanProcessor(options.exporter));
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName, ...options.resource }),
    spanProcessors: processors,
  });
  provider.register();
  return {
    tracer: provider.getTracer('xlat64'),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** Runs `work` in a span named `name` (child of `parent` or of the active span); failures set ERROR. */
export async function traced<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  work: () => Promise<T> | T,
  parent: Context = context.active(),
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, parent, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The synchronous form of `traced`, for a step that must not yield (a snapshot's cut and image). */
export function tracedSync<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  work: () => T,
  parent: Context = context.active(),
): T {
  return tracer.startActiveSpan(name, { attributes }, parent, (span) => {
    try {
      return work();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * The tracer the control plane's modules (services/state) use: the globally registered provider's
 * (`startTracing` registers one), else OpenTelemetry's no-op tracer, so an untraced run pays only a
 * no-op span per step. Looked up per call: a provider registered later is picked up.
 */
export function controlPlaneTracer(): Tracer {
  return trace.getTracer('xlat64');
}

/** Sets attributes on the active span (results known only at the end of a step: counts, sizes). */
export function annotateSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

export { trace };
