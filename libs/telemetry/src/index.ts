// Public surface of libs/telemetry: OpenTelemetry metrics over the data plane's shared counters
// (Prometheus text at /metrics), the dashboard page and its JSON, control-plane traces exported
// over OTLP, and W3C trace context in message headers. Imports no other package of the repo.
export {
  type CounterSource,
  type MetricTarget,
  metricTarget,
  registerCounterMetrics,
} from './counter-metrics.js';
export { dashboardHtml } from './dashboard-page.js';
export { TelemetryError, type TelemetryErrorCode } from './errors.js';
export {
  formatListenAddress,
  type ListenAddress,
  type MetricsEndpoint,
  type MetricsEndpointOptions,
  parseListenAddress,
  startMetricsEndpoint,
} from './metrics-endpoint.js';
export { type Observation, type ObservedMetric, registerObservedMetrics } from './observed-metrics.js';
export {
  createReplicationMetrics,
  type OutboxLagStatus,
  outboxMetrics,
  type ReplicationMetrics,
} from './state-metrics.js';
export {
  extractTraceContext,
  type HeaderMap,
  injectTraceContext,
  installTracePropagator,
} from './trace-context.js';
export {
  annotateSpan,
  controlPlaneTracer,
  startTracing,
  type Tracing,
  type TracingOptions,
  trace,
  traced,
  tracedSync,
} from './tracing.js';
