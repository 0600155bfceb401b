// Loads the libs/tun N-API addon (native/tun.c, built by node-gyp during `npm install`) and gives it
// types. The same file is used from the TypeScript sources (vitest, tsx) and from the compiled
// dist/ tree, so the package directory is found relative to either location.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { TunError, TunErrorCode } from './errors.js';

/** TUN_F_* bits of TUNSETOFFLOAD (linux/if_tun.h). */
export interface TunConstants {
  readonly TUN_F_CSUM: number;
  readonly TUN_F_TSO4: number;
  readonly TUN_F_TSO6: number;
  readonly TUN_F_TSO_ECN: number;
  readonly TUN_F_UFO: number;
  readonly TUN_F_USO4: number;
  readonly TUN_F_USO6: number;
  readonly IFNAMSIZ: number;
}

/** The raw addon. Errors are thrown with `code` = errno name; prefer the wrappers in device.ts. */
export interface TunNative {
  open(
    name: string,
    flags: { multiQueue?: boolean; vnetHdr?: boolean },
    netnsPath?: string,
  ): { fd: number; name: string };
  setOffload(fd: number, flags: number): void;
  setVnetHdrSize(fd: number, bytes: number): void;
  /**
   * Waits up to timeoutMs for the queue to be readable, then reads up to maxPackets packets back to
   * back into buffer (packet i at offsets[i], lengths[i] bytes, each headroomBytes after the 8-byte
   * aligned end of the previous one). Stops early when the queue is empty or fewer than
   * packetMaxBytes (default 65,600) + headroomBytes (default 0) bytes are left. Returns the count;
   * 0 on timeout. packetMaxBytes must cover the device's largest packet: the kernel cuts a longer
   * one short without telling. With wakeFd (from createWakeFd) the wait also ends when another thread
   * calls wake(wakeFd): -1 is returned when that happened and no packet was waiting (the eventfd is
   * reset then; when packets came as well it stays set, so the next read returns -1 at once). With
   * socketFd the wait also ends when that socket is readable: -2 is returned when it is and neither a
   * packet nor a wake came (nothing is read from it: the caller's event loop does that). With loopFd
   * (eventLoopFd() of the calling thread) the wait also ends when that thread's event loop has I/O ready
   * (a reply on one of its sockets, a message on its port): -3 is returned when it has and nothing else
   * came; the caller returns to its event loop.
   */
  readBatch(
    fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    maxPackets: number,
    timeoutMs: number,
    packetMaxBytes?: number,
    headroomBytes?: number,
    wakeFd?: number,
    socketFd?: number,
    loopFd?: number,
  ): number;
  /**
   * The calling thread's event-loop fd (libuv's backend epoll fd, readable while any I/O the loop
   * watches is ready) for readBatch's loopFd. Not to be closed.
   */
  eventLoopFd(): number;
  /**
   * Writes the socket address of `host` (an IPv4 or IPv6 literal) and `port` at out[offset, offset + 32)
   * for sendBatch's `addresses`; returns its length (16 or 28).
   */
  udpAddress(host: string, port: number, out: Uint8Array, offset: number): number;
  /**
   * Sends datagrams i < count (buffer[offsets[i], + lengths[i]) to the address at addresses[peerOf[i] * 32])
   * on the non-blocking UDP socket `fd` with sendmmsg(2), 64 per system call. Returns how many were handed
   * to the kernel or refused (refusals counted in errors[0]); it stops at the first one the socket buffer
   * has no room for, which the caller sends another way.
   */
  sendBatch(
    fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    peerOf: Int32Array,
    addresses: Uint8Array,
    errors: Int32Array,
  ): number;
  /**
   * Reads up to maxCount (at most 64) waiting datagrams from the non-blocking UDP socket `fd` with one
   * recvmmsg(2): datagram i at buffer[i * slotBytes] (lengths[i] bytes, 0 when cut for being longer than a
   * slot), its sender's socket address at sources[i * 32]. Returns the count (0: nothing waits).
   */
  recvBatch(
    fd: number,
    buffer: Uint8Array,
    slotBytes: number,
    maxCount: number,
    lengths: Uint32Array,
    sources: Uint8Array,
  ): number;
  /**
   * Sets the socket's receive buffer to `bytes` (SO_RCVBUFFORCE when the process may, past
   * net.core.rmem_max; else SO_RCVBUF, capped by it) and returns SO_RCVBUF afterwards (the kernel reports
   * twice what it granted).
   */
  setReceiveBuffer(fd: number, bytes: number): number;
  /** A wake eventfd (non-blocking, close-on-exec) for readBatch's wakeFd; close it with close(fd). */
  createWakeFd(): number;
  /** Wakes a readBatch waiting on this eventfd (or makes the next one return -1 at once). Any thread. */
  wake(fd: number): void;
  /** Writes count packets; returns how many the kernel accepted (refused ones are skipped). */
  writeBatch(
    fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
  ): number;
  close(fd: number): void;
  readonly constants: TunConstants;
}

/**
 * libs/tun's own directory. From src/ it is `..`; from dist/libs/tun/src/ it is the checkout's
 * libs/tun (the addon and the worker bootstrap are not copied into dist/).
 */
export function tunPackageDir(): string {
  const here = new URL('.', import.meta.url);
  const fromSource = new URL('../', here);
  if (existsSync(new URL('binding.gyp', fromSource))) return fileURLToPath(fromSource);
  const fromDist = new URL('../../../../libs/tun/', here);
  return fileURLToPath(fromDist);
}

export function addonPath(): string {
  return process.env.XLAT64_TUN_ADDON ?? `${tunPackageDir()}build/Release/xlat64_tun.node`;
}

let loaded: TunNative | undefined;

export function loadNative(): TunNative {
  if (loaded) return loaded;
  const file = addonPath();
  if (!existsSync(file)) {
    throw new TunError(
      TunErrorCode.addonMissing,
      `TUN addon not found at ${file}: run \`npm install\` (or \`npm run build:tun\`) in the checkout`,
    );
  }
  try {
    loaded = createRequire(import.meta.url)(file) as TunNative;
  } catch (error) {
    throw new TunError(
      TunErrorCode.addonMissing,
      `TUN addon at ${file} failed to load (built for another Node version?): rebuild with \`npm run build:tun\``,
      { cause: error },
    );
  }
  return loaded;
}
