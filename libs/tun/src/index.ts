// libs/tun public surface: Linux TUN devices through a small N-API addon (multi-queue, batched
// reads and writes, IFF_VNET_HDR with TUNSETOFFLOAD), a worker thread per queue running a caller's
// packet handler module, and the virtio_net_hdr helpers a translator needs.

export { useBundledWorker } from './bundled.js';
export {
  negotiateOffloads,
  type OpenTunOptions,
  offloadNames,
  openTun,
  TUN_OFFLOADS_ALL,
  TUN_PACKET_MAX_BYTES,
  type TunDevice,
  TunOffload,
} from './device.js';
export { TunError, TunErrorCode } from './errors.js';
export { GsoRefusal, GsoSegmenter, type SegmentSink } from './gso-segment.js';
export type { CreateQueueHandler, QueueContext, QueueHandler } from './handler.js';
export { loadNative, type TunNative } from './native.js';
export {
  type QueueSet,
  type QueueStats,
  type RunningQueue,
  type StartQueuesOptions,
  startQueues,
} from './queues.js';
export { STEER_CONFIG_WORDS, type SteeringConfig, TunSteering } from './steering.js';
export {
  adjustVnetHeaderForFamily,
  clampVnetGsoSize,
  clearVnetHeader,
  createVnetHeader,
  readVnetHeader,
  VNET_HDR_BYTES,
  VNET_HDR_MRG_BYTES,
  VnetAdjust,
  VnetFlag,
  VnetGso,
  type VnetHeader,
  vnetGsoSize,
  vnetGsoType,
  writeVnetHeader,
} from './vnet.js';
