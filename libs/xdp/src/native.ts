// Loads the libs/xdp N-API addon (native/xdp.c) and names the XDP program object it attaches
// (native/xlat64_xdp.bpf.c), both built by `npm install`. Works from the TypeScript sources and from
// the compiled dist/ tree, like libs/tun's loader.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { XdpError, XdpErrorCode } from './errors.js';

export interface XdpPrefixEntry {
  bytes: Uint8Array;
  length: number;
}

export interface XdpOpenResult {
  handle: number;
  ifindex: number;
  mode: 'native' | 'generic';
  zeroCopy: boolean;
  /** Errno name of the refused zero-copy bind (native mode tries it first), null when not refused. */
  zeroCopyRefused: string | null;
  replacedStale: boolean;
  programId: number;
}

/** The raw addon; prefer XdpPort (port.ts). Errors carry `code` = errno name and `syscall`. */
export interface XdpNative {
  open(options: {
    ifname: string;
    netnsPath?: string;
    programPath: string;
    queues: number;
    frames: number;
    frameSize: number;
    ringSize: number;
    mode: 'auto' | 'native' | 'generic';
    pref64: XdpPrefixEntry[];
    pool4: XdpPrefixEntry[];
  }): XdpOpenResult;
  detachStale(ifname: string, netnsPath?: string): boolean;
  attachedProgram(ifname: string, netnsPath?: string): { id: number; name: string; mode: string } | null;
  umem(handle: number, queue: number): ArrayBuffer;
  /**
   * Recycles the frames lent by the previous receive()/alloc() that were not sent, then lends up to
   * maxPackets received frames: packet i is umem[offsets[i], offsets[i] + lengths[i]), Ethernet first,
   * with 258 free bytes before it in its frame (XDP_PACKET_HEADROOM + 2, so the IP header after the
   * Ethernet header is 16-byte aligned). Polls up to timeoutMs only when
   * the RX ring is empty. Returns the count (0 on timeout). With loopFd (libs/tun's eventLoopFd()) the
   * wait also ends when the calling thread's event loop has I/O ready: -1 then, if no frame came.
   */
  receive(
    handle: number,
    queue: number,
    offsets: Uint32Array,
    lengths: Uint32Array,
    maxPackets: number,
    timeoutMs: number,
    loopFd?: number,
  ): number;
  /**
   * Waits up to timeoutMs, in one poll() over all their sockets, until one of the queues (pairs of
   * handle, queue) has received frames; returns a bitmask (bit i = pair i ready), 0 on timeout, -1 when
   * only the event loop of loopFd (see receive) had I/O ready.
   */
  waitAny(queues: Int32Array, timeoutMs: number, loopFd?: number): number;
  /** Lends up to count free frames (whole frames, frame start in offsetsOut) until the next receive(). */
  alloc(handle: number, queue: number, offsetsOut: Uint32Array, count: number): number;
  /** Queues lent frames for transmission (zero copy), one wake-up per batch; returns how many. */
  send(handle: number, queue: number, offsets: Uint32Array, lengths: Uint32Array, count: number): number;
  /**
   * Copies packets from any buffer into free frames and sends them; returns how many. With `macs`
   * (12 bytes per packet: destination then source MAC) the packets are bare IPv4/IPv6 and each frame
   * gets an Ethernet header with the EtherType of the version nibble.
   */
  write(
    handle: number,
    queue: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
    macs?: Uint8Array,
  ): number;
  stats(handle: number, queue: number, out: Float64Array): void;
  programStats(handle: number): { redirected: number; passed: number; noSocket: number };
  close(handle: number): void;
  /** A non-blocking rtnetlink socket (in that namespace) subscribed to neighbour, route and link changes. */
  netlinkOpen(netnsPath?: string): number;
  /** Reads pending netlink messages into buffer: bytes read, 0 if none, -1 if the kernel dropped some. */
  netlinkRead(fd: number, buffer: Uint8Array): number;
  /** Sends one netlink request (length bytes of buffer) to the kernel; returns bytes sent. */
  netlinkSend(fd: number, buffer: Uint8Array, length: number): number;
  netlinkClose(fd: number): void;
}

/**
 * libs/xdp's own directory. From src/ it is `..`; from dist/libs/xdp/src/ it is the checkout's libs/xdp
 * (the addon and the program are not copied into dist/).
 */
export function xdpPackageDir(): string {
  const here = new URL('.', import.meta.url);
  const fromSource = new URL('../', here);
  if (existsSync(new URL('binding.gyp', fromSource))) return fileURLToPath(fromSource);
  return fileURLToPath(new URL('../../../../libs/xdp/', here));
}

export function addonPath(): string {
  return process.env.XLAT64_XDP_ADDON ?? `${xdpPackageDir()}build/Release/xlat64_xdp.node`;
}

export function programPath(): string {
  return process.env.XLAT64_XDP_PROGRAM ?? `${xdpPackageDir()}build/xlat64_xdp.bpf.o`;
}

let loaded: XdpNative | undefined;

export function loadNative(): XdpNative {
  if (loaded) return loaded;
  const file = addonPath();
  if (!existsSync(file)) {
    throw new XdpError(
      XdpErrorCode.addonMissing,
      `XDP addon not found at ${file}: run \`npm install\` (or \`npm run build:xdp\`) in the checkout`,
    );
  }
  try {
    loaded = createRequire(import.meta.url)(file) as XdpNative;
  } catch (error) {
    throw new XdpError(
      XdpErrorCode.addonMissing,
      `XDP addon at ${file} failed to load (built for another Node version, or libxdp1/libbpf1 missing?): ` +
        'rebuild with `npm run build:xdp`',
      { cause: error },
    );
  }
  return loaded;
}
