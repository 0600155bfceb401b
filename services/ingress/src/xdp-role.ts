// The role lifecycle with AF_XDP I/O instead of a TUN device (`io: xdp`): attach libs/xdp's program to
// the interface with the role's PREF64 and pool, start one worker per queue running the same handler
// module as the TUN queues, serve `xlat64 status` (with the XDP mode: native or generic); on a failure
// halfway, or at stop, undo in reverse order (status, workers, sockets and program).
import { openXdpPort, startXdpQueues, type XdpPort, type XdpQueueSet } from '../../../libs/xdp/src/index.js';
import { type CounterLayout, sumCounters } from './counters.js';
import { StatusServer } from './status-server.js';

export interface XdpRoleSpec {
  role: 'plat';
  interfaceName: string;
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
  details: () => Record<string, unknown>;
}

export interface RunningXdpRole {
  readonly port: XdpPort;
  stop(): Promise<void>;
}

export async function startXdpRole(spec: XdpRoleSpec, log: (line: string) => void): Promise<RunningXdpRole> {
  const port = openXdpPort({
    interfaceName: spec.interfaceName,
    queues: spec.queues,
    mode: spec.mode,
    pref64: spec.pref64,
    pool4: spec.pool4,
  });
  let queues: XdpQueueSet | null = null;
  let status: StatusServer | null = null;
  try {
    const counters = Array.from({ length: spec.queues }, () => spec.layout.allocate());
    queues = await startXdpQueues({
      port,
      handlerModule: spec.handlerModule,
      handlerOptions: spec.handlerOptions(counters),
      onError: (error, queue) => log(`${spec.role}: xdp queue ${queue}: ${error.message}`),
    });
    const running = queues;
    const startedAt = new Date().toISOString();
    status = new StatusServer(spec.statusSocket, () => ({
      role: spec.role,
      pid: process.pid,
      startedAt,
      io: 'xdp',
      interface: port.interfaceName,
      xdpMode: port.mode,
      zeroCopy: port.zeroCopy,
      ...spec.details(),
      xdpProgram: port.programStats(),
      queueStats: running.stats(),
      counters: sumCounters(spec.layout, counters),
    }));
    await status.start();
  } catch (error) {
    await status?.stop();
    await queues?.stop();
    port.close();
    throw error;
  }
  const runningQueues = queues;
  const runningStatus = status;
  return {
    port,
    async stop() {
      await runningStatus.stop();
      await runningQueues.stop();
      port.close();
    },
  };
}
