// Real observability servers for tests and labs: Debian's Prometheus and a Jaeger all-in-one
// (built by infra/scripts/ensure-jaeger.sh), each started on a free loopback port (or inside a
// network namespace we made) with a temporary config and data directory, and stopped by its PID.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface RunningServer {
  readonly pid: number;
  readonly port: number;
  readonly dir: string;
  /** GET on the server (through `ip netns exec` when it runs in a namespace); returns the body. */
  get(path: string): string;
  stop(): Promise<void>;
}

/** A TCP port free on 127.0.0.1 right now (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function launch(name: string, command: string[], netns: string | undefined, dir: string): ChildProcess {
  const full = netns === undefined ? command : ['ip', 'netns', 'exec', netns, ...command];
  const fd = openSync(join(dir, `${name}.log`), 'a');
  const child = spawn(full[0], full.slice(1), { stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${full.join(' ')}`);
  return child;
}

function curl(netns: string | undefined, url: string): { ok: boolean; body: string } {
  const command = ['curl', '-sS', '-g', '--max-time', '10', '-f', url];
  const full = netns === undefined ? command : ['ip', 'netns', 'exec', netns, ...command];
  const result = spawnSync(full[0], full.slice(1), { encoding: 'utf8', timeout: 15_000 });
  return { ok: result.status === 0, body: result.stdout ?? '' };
}

async function waitReady(
  child: ChildProcess,
  check: () => boolean,
  what: string,
  log: string,
): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null)
      throw new Error(`${what} exited ${child.exitCode}:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    if (check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after 120 s:\n${readFileSync(log, 'utf8').slice(-2000)}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function server(child: ChildProcess, port: number, dir: string, netns: string | undefined): RunningServer {
  return {
    pid: child.pid as number,
    port,
    dir,
    get(path) {
      const result = curl(netns, `http://127.0.0.1:${port}${path}`);
      if (!result.ok) throw new Error(`GET ${path} on port ${port} failed`);
      return result.body;
    },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PrometheusOptions {
  /** host:port targets serving /metrics. */
  targets: string[];
  /** Run inside this network namespace (its loopback); default: the host's 127.0.0.1. */
  netns?: string;
  port?: number;
  scrapeIntervalSeconds?: number;
}

/** Starts Debian's prometheus with a temporary config and TSDB directory. */
export async function startPrometheus(
  options: PrometheusOptions,
): Promise<RunningServer & { query(expr: string): PromSample[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'x64t-prometheus-'));
  const port = options.port ?? (await freePort());
  const interval = options.scrapeIntervalSeconds ?? 1;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${interval}s`,
      `  scrape_timeout: ${interval}s`,
      'scrape_configs:',
      '  - job_name: xlat64',
      '    static_configs:',
      `      - targets: [${options.targets.map((t) => `'${t}'`).join(', ')}]`,
      '',
    ].join('\n'),
  );
  const child = launch(
    'prometheus',
    [
      'prometheus',
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    options.netns,
    dir,
  );
  const running = server(child, port, dir, options.netns);
  try {
    await waitReady(
      child,
      () => curl(options.netns, `http://127.0.0.1:${port}/-/ready`).ok,
      'prometheus',
      join(dir, 'prometheus.log'),
    );
  } catch (error) {
    await running.stop();
    throw error;
  }
  return {
    ...running,
    query(expr) {
      const body = running.get(`/api/v1/query?query=${encodeURIComponent(expr)}`);
      const doc = JSON.parse(body) as {
        status: string;
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (doc.status !== 'success') throw new Error(`prometheus query ${expr}: ${body}`);
      return doc.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    },
  };
}

export interface PromSample {
  labels: Record<string, string>;
  value: number;
}

/** Builds (once, cached outside git) and starts Jaeger all-in-one: OTLP/HTTP and the query API. */
export async function startJaeger(
  options: {
    /** Run inside this network namespace (its own loopback), e.g. the lab PLAT's. */
    netns?: string;
    /** OTLP/HTTP port (default a free one; a fixed one suits a namespace of its own). */
    otlpPort?: number;
    /** Query UI/API port (default a free one; fixed when a PLAT's `tracesUi` must name it before the start). */
    queryPort?: number;
  } = {},
): Promise<RunningServer & { otlpTracesUrl: string }> {
  const build = spawnSync('bash', [join(REPO, 'infra/scripts/ensure-jaeger.sh')], {
    encoding: 'utf8',
    timeout: 3_600_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (build.status !== 0) throw new Error(`ensure-jaeger.sh failed (exit ${build.status})`);
  const binary = build.stdout.trim().split('\n').at(-1) as string;
  const dir = mkdtempSync(join(tmpdir(), 'x64t-jaeger-'));
  const [free, freeQuery, grpc, health] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const otlp = options.otlpPort ?? free;
  const query = options.queryPort ?? freeQuery;
  // Jaeger v2 is an OpenTelemetry Collector: a config with the OTLP receiver, memory storage, the query UI/API.
  writeFileSync(
    join(dir, 'jaeger.yaml'),
    `service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:${health}
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:${query}
    grpc:
      endpoint: 127.0.0.1:${grpc}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlp}
processors:
  batch:
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`,
  );
  const child = launch(
    'jaeger',
    [binary, '--config', `file:${join(dir, 'jaeger.yaml')}`],
    options.netns,
    dir,
  );
  const running = server(child, query, dir, options.netns);
  try {
    await waitReady(
      child,
      () => curl(options.netns, `http://127.0.0.1:${query}/api/services`).ok,
      'jaeger',
      join(dir, 'jaeger.log'),
    );
  } catch (error) {
    await running.stop();
    throw error;
  }
  return { ...running, otlpTracesUrl: `http://127.0.0.1:${otlp}/v1/traces` };
}
