// Opening a Linux TUN device as one or more queues (TUNSETIFF with IFF_TUN | IFF_NO_PI, plus
// IFF_MULTI_QUEUE and IFF_VNET_HDR on request) and negotiating segmentation offloads with
// TUNSETOFFLOAD, falling back step by step to what this kernel accepts (USO needs Linux 6.2).
// Kernel interface: Documentation/networking/tuntap.rst, include/uapi/linux/if_tun.h.
import { TunError, TunErrorCode, wrapNativeError } from './errors.js';
import { loadNative, type TunNative } from './native.js';
import { VNET_HDR_BYTES } from './vnet.js';

/** TUN_F_* offload bits (linux/if_tun.h); the values are ABI and fixed. */
export const TunOffload = {
  csum: 0x01,
  tso4: 0x02,
  tso6: 0x04,
  tsoEcn: 0x08,
  /** Legacy UDP fragmentation offload; never requested (it would hand us IP fragments). */
  ufo: 0x10,
  uso4: 0x20,
  uso6: 0x40,
} as const;

/** Everything xlat64 can use: checksum offload, TCP segmentation for both families, UDP segmentation. */
export const TUN_OFFLOADS_ALL =
  TunOffload.csum | TunOffload.tso4 | TunOffload.tso6 | TunOffload.tsoEcn | TunOffload.uso4 | TunOffload.uso6;

/** Most a queue ever reads in one packet: 65,535-byte IPv6 payload + 40-byte header + vnet header, rounded. */
export const TUN_PACKET_MAX_BYTES = 65_536 + 64;

const QUEUES_MAX = 256; // the kernel's MAX_TAP_QUEUES

export interface OpenTunOptions {
  /** Interface name, at most 15 bytes; an existing TUN device with matching flags is attached to. */
  name: string;
  /** Number of queues (file descriptors) to open; more than 1 implies multiQueue. Default 1. */
  queues?: number;
  /** Open with IFF_MULTI_QUEUE even for one queue (so more can attach later). Default: queues > 1. */
  multiQueue?: boolean;
  /** Prefix every packet with a virtio_net_hdr (IFF_VNET_HDR) and negotiate offloads. Default false. */
  vnetHdr?: boolean;
  /** Size of the virtio header when vnetHdr is on: 10 (virtio_net_hdr) or 12 (with num_buffers). Default 10. */
  vnetHdrBytes?: 10 | 12;
  /** TUN_F_* bits to ask for when vnetHdr is on. Default TUN_OFFLOADS_ALL; 0 = none. */
  offloads?: number;
  /** Create the device inside this network namespace (e.g. /run/netns/x64-plat) instead of ours. */
  netnsPath?: string;
}

export interface TunDevice {
  /** The interface name the kernel gave the device. */
  readonly name: string;
  /** One file descriptor per queue, non-blocking, close-on-exec. Usable from any worker thread. */
  readonly fds: readonly number[];
  /** Bytes of virtio_net_hdr in front of every packet read or written; 0 without vnetHdr. */
  readonly vnetHdrBytes: number;
  /** TUN_F_* bits the kernel accepted (0 without vnetHdr or when it refused them all). */
  readonly offloads: number;
  /** The accepted offloads by name, e.g. ['csum', 'tso4', 'tso6', 'tsoEcn', 'uso4', 'uso6']. */
  readonly offloadNames: readonly string[];
  /** Closes every queue; the kernel removes the (non-persistent) device with the last one. Idempotent. */
  close(): void;
}

/** Names of the set bits of a TUN_F_* mask. */
export function offloadNames(mask: number): string[] {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(TunOffload)) if (mask & bit) names.push(name);
  return names;
}

/**
 * Asks the kernel for `requested` offloads on an open queue and falls back until it agrees:
 * everything → without USO (kernels before 6.2) → TSO without ECN → checksum only → none.
 * Returns the accepted mask. Requires the queue to have been opened with vnetHdr.
 */
export function negotiateOffloads(fd: number, requested: number, native: TunNative = loadNative()): number {
  const usoBits = TunOffload.uso4 | TunOffload.uso6;
  const candidates = [
    requested,
    requested & ~usoBits,
    requested & ~(usoBits | TunOffload.tsoEcn),
    requested & TunOffload.csum,
    0,
  ];
  let lastError: unknown;
  let previous = -1;
  for (const mask of candidates) {
    if (mask === previous) continue;
    previous = mask;
    try {
      native.setOffload(fd, mask);
      return mask;
    } catch (error) {
      // EINVAL is how a kernel refuses bits it does not know; anything else is a real failure.
      if ((error as { code?: string }).code !== 'EINVAL') {
        throw wrapNativeError(TunErrorCode.configure, 'TUNSETOFFLOAD failed', error);
      }
      lastError = error;
    }
  }
  throw wrapNativeError(TunErrorCode.configure, 'TUNSETOFFLOAD refused even an empty offload set', lastError);
}

export function openTun(options: OpenTunOptions): TunDevice {
  const queues = options.queues ?? 1;
  if (!Number.isInteger(queues) || queues < 1 || queues > QUEUES_MAX) {
    throw new TunError(
      TunErrorCode.invalidOptions,
      `openTun: queues must be an integer in 1..${QUEUES_MAX}, got ${queues}`,
    );
  }
  if (typeof options.name !== 'string' || Buffer.byteLength(options.name) > 15) {
    throw new TunError(
      TunErrorCode.invalidOptions,
      `openTun: name must be a string of at most 15 bytes, got ${options.name}`,
    );
  }
  const vnetHdr = options.vnetHdr ?? false;
  const vnetHdrBytes = options.vnetHdrBytes ?? VNET_HDR_BYTES;
  if (vnetHdrBytes !== 10 && vnetHdrBytes !== 12) {
    throw new TunError(
      TunErrorCode.invalidOptions,
      `openTun: vnetHdrBytes must be 10 or 12, got ${vnetHdrBytes}`,
    );
  }
  const multiQueue = options.multiQueue ?? queues > 1;
  if (queues > 1 && !multiQueue) {
    throw new TunError(TunErrorCode.invalidOptions, 'openTun: more than one queue needs multiQueue: true');
  }
  const native = loadNative();
  const fds: number[] = [];
  let name = options.name;
  const closeAll = () => {
    for (const fd of fds.splice(0)) {
      try {
        native.close(fd);
      } catch {
        // Closing is best effort during cleanup; the process exit releases the rest.
      }
    }
  };
  try {
    for (let i = 0; i < queues; i++) {
      // After the first queue, attach to the exact name the kernel chose (it may expand '%d').
      const opened = native.open(i === 0 ? options.name : name, { multiQueue, vnetHdr }, options.netnsPath);
      fds.push(opened.fd);
      name = opened.name;
    }
  } catch (error) {
    closeAll();
    throw wrapNativeError(
      TunErrorCode.open,
      `cannot open TUN device ${options.name} (queue ${fds.length})`,
      error,
    );
  }
  let offloads = 0;
  if (vnetHdr) {
    try {
      native.setVnetHdrSize(fds[0], vnetHdrBytes);
      offloads = negotiateOffloads(fds[0], options.offloads ?? TUN_OFFLOADS_ALL, native);
    } catch (error) {
      closeAll();
      if (error instanceof TunError) throw error;
      throw wrapNativeError(TunErrorCode.configure, `cannot configure TUN device ${name}`, error);
    }
  }
  const frozenFds = Object.freeze([...fds]);
  return {
    name,
    fds: frozenFds,
    vnetHdrBytes: vnetHdr ? vnetHdrBytes : 0,
    offloads,
    offloadNames: Object.freeze(offloadNames(offloads)),
    close: closeAll,
  };
}
