// The HTTP endpoint of a running role: Prometheus text at /metrics (OpenTelemetry's exporter over
// the counter metrics), the status document as JSON at /status.json, and the dashboard page at /.
// Control plane only: every answer is built on request from the shared counter blocks.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Attributes, Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { type CounterSource, registerCounterMetrics } from './counter-metrics.js';
import { dashboardHtml } from './dashboard-page.js';
import { TelemetryError } from './errors.js';
import { type ObservedMetric, registerObservedMetrics } from './observed-metrics.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface MetricsEndpointOptions {
  listen: ListenAddress;
  counters: CounterSource;
  /** The status document (the same one `xlat64 status` prints), for /status.json and the dashboard. */
  status?: () => unknown;
  /** Resource attributes (service.name is xlat64-<role>). */
  resource?: Attributes;
  /** Metrics computed on request next to the counters (pool use per address, …). */
  observed?: readonly ObservedMetric[];
}

export interface MetricsEndpoint {
  /** The address actually bound (port 0 asks the kernel for a free one). */
  readonly address: ListenAddress;
  readonly url: string;
  /** The endpoint's meter, for instruments recorded as things happen (lag histograms, state-metrics.ts). */
  readonly meter: Meter;
  /** Adds metrics computed on request after start (a feature that starts later: the compliance outbox). */
  observe(metrics: readonly ObservedMetric[]): void;
  stop(): Promise<void>;
}

export async function startMetricsEndpoint(options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'xlat64', ...options.resource }),
    readers: [exporter],
  });
  const meter = provider.getMeter('xlat64');
  registerCounterMetrics(meter, options.counters);
  registerObservedMetrics(meter, options.observed ?? [], options.counters.attributes);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      exporter.getMetricsRequestHandler(request, response);
    } else if (path === '/status.json' && options.status !== undefined) {
      let body: string;
      try {
        body = JSON.stringify(options.status());
      } catch (error) {
        response.writeHead(500, { 'content-type': 'text/plain' }).end((error as Error).message);
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
    } else if (path === '/' && options.status !== undefined) {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(dashboardHtml);
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
    }
  });
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new TelemetryError(
          'XLAT64_ERR_METRICS_LISTEN',
          `metrics: cannot listen on ${formatListenAddress(options.listen)}: ${error.message} (pick another address:port)`,
          { cause: error },
        ),
      ),
    );
    server.listen({ host: options.listen.host, port: options.listen.port }, () => resolve());
  });
  try {
    await listening;
  } catch (error) {
    await provider.shutdown();
    throw error;
  }
  const bound = server.address() as AddressInfo;
  const address = { host: options.listen.host, port: bound.port };
  return {
    address,
    url: `http://${formatListenAddress(address)}`,
    meter,
    observe: (metrics) => registerObservedMetrics(meter, metrics, options.counters.attributes),
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await provider.shutdown();
    },
  };
}

export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Parses `HOST:PORT` or `[V6]:PORT`; returns null when malformed (the caller names the field). */
export function parseListenAddress(text: string): ListenAddress | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port > 65535) return null;
  return { host: match[1] ?? match[2], port };
}
