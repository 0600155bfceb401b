// Pool use per IPv4 address of a running PLAT (RFC 6888 port blocks): blocks leased over blocks the
// address has, from the node's shared pool words, and ports of dynamic mappings, from the rows the
// workers write once a second. For the status document (`poolUse`) and the `xlat64.pool.*` gauges;
// read on request in the main thread, never on the packet path.
import type { ObservedMetric } from '../../../libs/telemetry/src/index.js';
import { formatIpv4, type NatEngineConfig, sharedPoolUse } from '../../nat-engine/src/index.js';
import type { PlatShards } from './plat-queue-handler.js';

export interface PoolAddressReport {
  address: string;
  leasedBlocks: number;
  totalBlocks: number;
  /** leasedBlocks / totalBlocks (the dashboard's heat map). */
  used: number;
  /** Ports of dynamic mappings on this address, summed over the workers (as of their last recount). */
  portsInUse: number;
}

export function platPoolUse(shards: PlatShards, config: NatEngineConfig): PoolAddressReport[] {
  const addresses = config.poolAddressCount;
  const rows = new Int32Array(shards.poolPorts);
  const workers = rows.length / addresses;
  return sharedPoolUse(shards.pool, config).map((use, a) => {
    let ports = 0;
    for (let w = 0; w < workers; w++) ports += Atomics.load(rows, w * addresses + a);
    return {
      address: formatIpv4(use.address),
      leasedBlocks: use.leasedBlocks,
      totalBlocks: use.totalBlocks,
      used: use.totalBlocks === 0 ? 0 : use.leasedBlocks / use.totalBlocks,
      portsInUse: ports,
    };
  });
}

/** The pool gauges, one series per address (`address` attribute). */
export function poolUseMetrics(report: () => PoolAddressReport[]): ObservedMetric[] {
  const gauge = (
    metric: string,
    unit: string,
    description: string,
    pick: (r: PoolAddressReport) => number,
  ): ObservedMetric => ({
    metric,
    kind: 'gauge',
    unit,
    description,
    observe: () => report().map((r) => ({ value: pick(r), attributes: { address: r.address } })),
  });
  return [
    gauge(
      'xlat64.pool.blocks.leased',
      '{block}',
      'port blocks of this pool address leased',
      (r) => r.leasedBlocks,
    ),
    gauge('xlat64.pool.blocks.total', '{block}', 'port blocks this pool address has', (r) => r.totalBlocks),
    gauge(
      'xlat64.pool.ports.used',
      '{port}',
      'ports of dynamic mappings on this pool address',
      (r) => r.portsInUse,
    ),
  ];
}
