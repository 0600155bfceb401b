// The lifecycle both translating roles share: open the TUN, apply the kernel setup, start one
// worker per queue with the role's handler module, serve `xlat64 status`; on a failure halfway,
// or at stop, undo in reverse order (status, workers, kernel setup while the device exists, device).
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
  handlerModule: URL;
  /** The handler's options; `counters` (one block per queue) is added here. */
  handlerOptions: (counters: SharedArrayBuffer[]) => unknown;
  /** Role-specific fields of the status document. */
  details: () => Record<string, unknown>;
}

export interface RunningRole {
  readonly device: TunDevice;
  stop(): Promise<void>;
}

export async function startRole(spec: RoleSpec, log: (line: string) => void): Promise<RunningRole> {
  const device = openTun({ name: spec.device, queues: spec.queues, vnetHdr: true });
  const setup = new SystemSetup();
  let queues: QueueSet | null = null;
  let status: StatusServer | null = null;
  try {
    for (const step of spec.setupSteps(device)) setup.apply(step);
    const counters = Array.from({ length: spec.queues }, () => spec.layout.allocate());
    queues = await startQueues({
      device,
      handlerModule: spec.handlerModule,
      handlerOptions: spec.handlerOptions(counters),
      onError: (error, queue) => log(`${spec.role}: queue ${queue}: ${error.message}`),
    });
    const running = queues;
    const startedAt = new Date().toISOString();
    status = new StatusServer(spec.statusSocket, () => ({
      role: spec.role,
      pid: process.pid,
      startedAt,
      device: device.name,
      ...spec.details(),
      offloads: device.offloadNames,
      queueStats: running.stats(),
      counters: sumCounters(spec.layout, counters),
    }));
    await status.start();
  } catch (error) {
    await status?.stop();
    await queues?.stop();
    setup.undoAll();
    device.close();
    throw error;
  }
  const runningQueues = queues;
  const runningStatus = status;
  return {
    device,
    async stop() {
      await runningStatus.stop();
      await runningQueues.stop();
      // Undo routes and addresses while the device still exists, then let the kernel remove it.
      const failures = setup.undoAll();
      device.close();
      for (const failure of failures) log(`${spec.role}: ${failure}`);
    },
  };
}
