// The lifecycle both translating roles share: open the TUN, apply the kernel setup, start one
// worker per queue with the role's handler module, serve `xlat64 status`; on a failure halfway,
// or at stop, undo in reverse order (status, workers, kernel setup while the device exists, device).
import type { ListenAddress, MetricsEndpoint, ObservedMetric } from '../../telemetry/src/index.js';
import { openTun, type QueueSet, startQueues, type TunDevice } from '../../tun/src/index.js';
import { type CounterLayout, sumCounters } from './counters.js';
import { StatusServer } from './status-server.js';
import { type SetupStep, SystemSetup } from './system-setup.js';

export interface RoleSpec {
  role: 'plat' | 'clat';
  device: string;
  queues: number;
  statusSocket: string;
  layout: CounterLayout;
  setupSteps: (device: TunDevice) => SetupStep[];
  /**
   * Called with the open device before the setup steps and the queue workers, e.g. to attach a
   * queue steering program; returns what undoes it at stop (before the device closes), or nothing.
   */
  onDevice?: (device: TunDevice) => (() => void) | undefined;
  handlerModule: URL;
  /** The handler's options; `counters` (one block per queue) is added here. */
  handlerOptions: (counters: SharedArrayBuffer[]) => unknown;
  /** Longest a TUN read waits before the worker's idle hook runs (libs/tun default 100 ms). */
  pollTimeoutMs?: number;
  /** Batches a TUN worker handles before it yields to its event loop under load (libs/tun default 64). */
  yieldEveryBatches?: number;
  /** Role-specific fields of the status document. */
  details: () => Record<string, unknown>;
  /** Counters kept outside the layout (the PLAT's per-tenant figures), added to the status document's. */
  moreCounters?: () => Record<string, number>;
  /** Where to serve Prometheus /metrics, /status.json and the dashboard (libs/telemetry); none when absent. */
  metrics?: ListenAddress;
  /** Role-specific metrics computed on request (the PLAT's pool use per address). */
  observed?: readonly ObservedMetric[];
}

export interface RunningRole {
  readonly device: TunDevice;
  /** The metrics endpoint when `metrics` was given (its bound address, for port 0). */
  readonly metrics: MetricsEndpoint | null;
  stop(): Promise<void>;
}

export async function startRole(spec: RoleSpec, log: (line: string) => void): Promise<RunningRole> {
  const device = openTun({ name: spec.device, queues: spec.queues, vnetHdr: true });
  const setup = new SystemSetup();
  let queues: QueueSet | null = null;
  let status: StatusServer | null = null;
  let metrics: MetricsEndpoint | null = null;
  let undoOnDevice: (() => void) | undefined;
  try {
    // Before the link comes up: the kernel's first packets into the device (MLD reports) meet it too.
    undoOnDevice = spec.onDevice?.(device);
    for (const step of spec.setupSteps(device)) setup.apply(step);
    const counters = Array.from({ length: spec.queues }, () => spec.layout.allocate());
    queues = await startQueues({
      device,
      handlerModule: spec.handlerModule,
      handlerOptions: spec.handlerOptions(counters),
      pollTimeoutMs: spec.pollTimeoutMs,
      yieldEveryBatches: spec.yieldEveryBatches,
      onError: (error, queue) => log(`${spec.role}: queue ${queue}: ${error.message}`),
    });
    const running = queues;
    const startedAt = new Date().toISOString();
    const snapshot = () => ({
      role: spec.role,
      pid: process.pid,
      startedAt,
      device: device.name,
      ...spec.details(),
      offloads: device.offloadNames,
      queueStats: running.stats(),
      counters: { ...sumCounters(spec.layout, counters), ...spec.moreCounters?.() },
      // Each worker's own figures next to the sum (one entry per queue).
      perQueue: counters.length > 1 ? counters.map((c) => sumCounters(spec.layout, [c])) : undefined,
    });
    status = new StatusServer(spec.statusSocket, snapshot);
    await status.start();
    if (spec.metrics !== undefined) {
      // Loaded only here: OpenTelemetry is most of a role's JavaScript, and an edge CLAT seldom serves metrics.
      const { startMetricsEndpoint } = await import('../../telemetry/src/metrics-endpoint.js');
      metrics = await startMetricsEndpoint({
        listen: spec.metrics,
        counters: { names: spec.layout.names, blocks: counters, attributes: { role: spec.role } },
        status: snapshot,
        observed: spec.observed,
        resource: { 'service.instance.id': `${spec.role}-${device.name}-${process.pid}` },
      });
      log(`${spec.role}: metrics at ${metrics.url}/metrics, dashboard at ${metrics.url}/`);
    }
  } catch (error) {
    await metrics?.stop();
    await status?.stop();
    await queues?.stop();
    undoOnDevice?.();
    setup.undoAll();
    device.close();
    throw error;
  }
  const runningQueues = queues;
  const runningStatus = status;
  const runningMetrics = metrics;
  const runningUndoOnDevice = undoOnDevice;
  return {
    device,
    metrics: runningMetrics,
    async stop() {
      await runningMetrics?.stop();
      await runningStatus.stop();
      await runningQueues.stop();
      runningUndoOnDevice?.();
      // Undo routes and addresses while the device still exists, then let the kernel remove it.
      const failures = setup.undoAll();
      device.close();
      for (const failure of failures) log(`${spec.role}: ${failure}`);
    },
  };
}
