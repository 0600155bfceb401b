// libs/xdp public surface: AF_XDP I/O through a small N-API addon (one socket per queue, UMEM shared
// with JavaScript without copies, batched rings, one wake-up per batch), the XDP program that steers
// only the PLAT's traffic to it, Ethernet framing and next-hop MACs from the kernel's neighbour table.

export { XdpError, XdpErrorCode } from './errors.js';
export {
  ETHERNET_HEADER_BYTES,
  EtherType,
  formatMac,
  parseMac,
  readEtherType,
  writeEthernetHeader,
} from './ethernet.js';
export { EthernetBatchWriter, type EthernetWriterStats } from './ethernet-writer.js';
export { loadNative, type XdpNative } from './native.js';
export { type NeighbourStats, NeighbourTable, type NeighbourTableOptions } from './neighbours.js';
export {
  attachedProgram,
  detachStaleProgram,
  type OpenXdpPortOptions,
  openXdpPort,
  type XdpPort,
  type XdpQueueStats,
} from './port.js';
export type { XdpQueueContext } from './queue-protocol.js';
export {
  type StartXdpQueuesOptions,
  startXdpQueues,
  type XdpQueueSet,
  type XdpQueueSetStats,
} from './queues.js';
