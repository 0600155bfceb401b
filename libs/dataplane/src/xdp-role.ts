// The role lifecycle with AF_XDP I/O instead of a TUN device (`io: xdp`): attach libs/xdp's program to
// the interface with the role's PREF64 and pool, start one worker per queue running the same handler
// module as the TUN queues, serve `xlat64 status` (with the XDP mode: native or generic); on a failure
// halfway, or at stop, undo in reverse order (metrics, status, workers, sockets and program). With
// `metrics` set it serves the same Prometheus /metrics, /status.json and dashboard as the TUN role.
import {
  type ListenAddress,
  type MetricsEndpoint,
  type ObservedMetric,
  startMetricsEndpoint,
} from '../../telemetry/src/index.js';
import { openXdpPort, startXdpQueues, type XdpPort, type XdpQueueSet } from '../../xdp/src/index.js';
import { type CounterLayout, sumCounters } from './counters.js';
import { StatusServer } from './status-server.js';

export interface XdpRoleSpec {
  role: 'plat';
  /** The IPv6 side's interface, or both sides'. */
  interfaceName: string;
  /** The IPv4 side's interface, when it is another one. */
  interfaceName4?: string;
  mode: 'auto' | 'native' | 'generic';
  queues: number;
  /** IPv6 destinations steered to the sockets (the PREF64). */
  pref64: string[];
  /** IPv4 destinations steered to the sockets (the pool, as CIDRs). */
  pool4: string[];
  statusSocket: string;
  layout: CounterLayout;
  handlerModule: URL;
  handlerOptions: (counters: SharedArrayBuffer[]) => unknown;
  /** How long an idle queue waits for frames (libs/xdp's default: 100 ms). */
  pollTimeoutMs?: number;
  details: () => Record<string, unknown>;
  /** Counters kept outside the layout (the PLAT's per-tenant figures), added to the status document's. */
  moreCounters?: () => Record<string, number>;
  /** Where to serve Prometheus /metrics, /status.json and the dashboard (libs/telemetry); none when absent. */
  metrics?: ListenAddress;
  /** Role-specific metrics computed on request (the PLAT's pool use per address). */
  observed?: readonly ObservedMetric[];
}

export interface RunningXdpRole {
  readonly port: XdpPort;
  readonly port4: XdpPort | undefined;
  /** The metrics endpoint when `metrics` was given (its bound address, for port 0). */
  readonly metrics: MetricsEndpoint | null;
  stop(): Promise<void>;
}

/** The sockets' statistics summed over queues and ports (`xlat64 status`). */
function socketStats(ports: readonly XdpPort[], queues: number): Record<string, number> {
  const total: Record<string, number> = {};
  for (const port of ports) {
    if (port.closed) continue;
    for (let q = 0; q < queues; q++) {
      for (const [name, value] of Object.entries(port.queueStats(q)))
        total[name] = (total[name] ?? 0) + value;
    }
  }
  return total;
}

export async function startXdpRole(spec: XdpRoleSpec, log: (line: string) => void): Promise<RunningXdpRole> {
  const port = openXdpPort({
    interfaceName: spec.interfaceName,
    queues: spec.queues,
    mode: spec.mode,
    pref64: spec.pref64,
    pool4: spec.pool4,
  });
  let port4: XdpPort | undefined;
  let queues: XdpQueueSet | null = null;
  let status: StatusServer | null = null;
  let metrics: MetricsEndpoint | null = null;
  try {
    if (spec.interfaceName4) {
      port4 = openXdpPort({
        interfaceName: spec.interfaceName4,
        queues: spec.queues,
        mode: spec.mode,
        pref64: spec.pref64,
        pool4: spec.pool4,
      });
    }
    const counters = Array.from({ length: spec.queues }, () => spec.layout.allocate());
    queues = await startXdpQueues({
      port,
      port4,
      handlerModule: spec.handlerModule,
      handlerOptions: spec.handlerOptions(counters),
      pollTimeoutMs: spec.pollTimeoutMs,
      onError: (error, queue) => log(`${spec.role}: xdp queue ${queue}: ${error.message}`),
    });
    const running = queues;
    const startedAt = new Date().toISOString();
    const snapshot = () => ({
      role: spec.role,
      pid: process.pid,
      startedAt,
      io: 'xdp',
      interface: port4 ? `${port.interfaceName} (IPv6), ${port4.interfaceName} (IPv4)` : port.interfaceName,
      xdpMode: port4 && port4.mode !== port.mode ? `${port.mode}, ${port4.mode}` : port.mode,
      zeroCopy: port.zeroCopy && (port4?.zeroCopy ?? true),
      // Why not, in native mode: the driver's answer to the zero-copy bind (veth: EOPNOTSUPP).
      zeroCopyRefused: port.zeroCopyRefused ?? port4?.zeroCopyRefused ?? null,
      ...spec.details(),
      xdpProgram: port.programStats(),
      ...(port4 ? { xdpProgram4: port4.programStats() } : {}),
      queueStats: running.stats(),
      // The kernel's side of the sockets: frames dropped before a worker saw them (rx ring full, fill
      // ring empty) are the AF_XDP counterpart of a TUN's tx drops.
      socketStats: socketStats(port4 ? [port, port4] : [port], spec.queues),
      counters: { ...sumCounters(spec.layout, counters), ...spec.moreCounters?.() },
      // Each worker's own figures next to the sum (one entry per queue), as the TUN role has.
      perQueue: counters.length > 1 ? counters.map((c) => sumCounters(spec.layout, [c])) : undefined,
    });
    status = new StatusServer(spec.statusSocket, snapshot);
    await status.start();
    if (spec.metrics !== undefined) {
      metrics = await startMetricsEndpoint({
        listen: spec.metrics,
        counters: { names: spec.layout.names, blocks: counters, attributes: { role: spec.role } },
        status: snapshot,
        observed: spec.observed,
        resource: { 'service.instance.id': `${spec.role}-${port.interfaceName}-${process.pid}` },
      });
      log(`${spec.role}: metrics at ${metrics.url}/metrics, dashboard at ${metrics.url}/`);
    }
  } catch (error) {
    await metrics?.stop();
    await status?.stop();
    await queues?.stop();
    port4?.close();
    port.close();
    throw error;
  }
  const runningQueues = queues;
  const runningStatus = status;
  const openPort4 = port4;
  const runningMetrics = metrics;
  return {
    port,
    port4,
    metrics: runningMetrics,
    async stop() {
      await runningMetrics?.stop();
      await runningStatus.stop();
      await runningQueues.stop();
      openPort4?.close();
      port.close();
    },
  };
}
