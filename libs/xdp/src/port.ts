// An XDP port: the xlat64 XDP program attached to one interface plus one AF_XDP socket per queue, with
// the PLAT's PREF64s and IPv4 pool written into the program's maps so only translated traffic is
// redirected. Validates its configuration (naming the field and the fix), reports native or generic
// mode, and closes cleanly: sockets deleted, program detached, nothing left on the interface.
import { isPrefixParseFailure, parseIpv4Prefix, parseIpv6Prefix } from '../../xlat/src/index.js';
import { wrapNativeError, XdpError, XdpErrorCode } from './errors.js';
import { loadNative, programPath, type XdpNative, type XdpPrefixEntry } from './native.js';

export interface OpenXdpPortOptions {
  /** The interface to attach to (≤ 15 bytes). */
  interfaceName: string;
  /** Network namespace file (/run/netns/NAME) holding the interface; default: this process's. */
  netnsPath?: string;
  /** AF_XDP sockets, one per receive queue 0..queues-1. Default 1. */
  queues?: number;
  /** UMEM frames per queue. Default 4096. */
  framesPerQueue?: number;
  /** Bytes per frame, 2048 or 4096. Default 4096. */
  frameSizeBytes?: 2048 | 4096;
  /** Descriptors per ring (RX, TX, fill, completion), a power of two ≤ framesPerQueue. Default 2048. */
  ringSize?: number;
  /** 'auto' (native, else generic), 'native' or 'generic'. Default 'auto'. */
  mode?: 'auto' | 'native' | 'generic';
  /** IPv6 destinations redirected to the sockets (the PREF64s), e.g. ['64:ff9b::/96']. */
  pref64: readonly string[];
  /** IPv4 destinations redirected to the sockets (the pool), e.g. ['198.51.100.0/24']. */
  pool4: readonly string[];
}

export interface XdpQueueStats {
  /** Frames the kernel dropped for want of RX ring or fill ring space (XDP_STATISTICS). */
  rxDropped: number;
  rxInvalid: number;
  txInvalid: number;
  rxRingFull: number;
  fillRingEmpty: number;
  txRingEmpty: number;
  /** Packets send() refused: not inside a frame the caller held. */
  txRefused: number;
  /** Packets write() could not place: no free frame. */
  txNoFrame: number;
  /** Packets send()/write() left for want of TX ring space. */
  txRingFull: number;
  /** sendto() wake-ups (at most one per send batch). */
  wakeups: number;
  /** poll() calls (only when the RX ring was empty). */
  polls: number;
  freeFrames: number;
}

export interface XdpPort {
  readonly interfaceName: string;
  readonly netnsPath: string | undefined;
  /** Handle for the raw addon calls (receive/send/alloc/write) on the packet path. */
  readonly handle: number;
  readonly ifindex: number;
  /** 'native' when the driver runs XDP itself (veth does), 'generic' (skb) otherwise. */
  readonly mode: 'native' | 'generic';
  /** True when the driver took the UMEM for zero-copy (no skb and no copy per frame). */
  readonly zeroCopy: boolean;
  /**
   * In native mode the sockets ask for zero-copy first: the errno name the driver refused it with
   * (veth: EOPNOTSUPP), and the sockets run in copy mode; null when granted or not asked (generic mode).
   */
  readonly zeroCopyRefused: string | null;
  /** True when a program left by a crashed xlat64 was detached before attaching. */
  readonly replacedStale: boolean;
  readonly programId: number;
  readonly queueCount: number;
  readonly frameSizeBytes: number;
  readonly framesPerQueue: number;
  readonly native: XdpNative;
  /** A Buffer over queue q's UMEM (no copy); offsets from receive()/alloc() index into it. */
  umem(queue: number): Buffer;
  queueStats(queue: number): XdpQueueStats;
  /** What the XDP program did, summed over CPUs. */
  programStats(): { redirected: number; passed: number; noSocket: number };
  /** Deletes the sockets and detaches the program. Idempotent. Stop every queue loop first. */
  close(): void;
  readonly closed: boolean;
}

function invalid(message: string): XdpError {
  return new XdpError(XdpErrorCode.invalidOptions, message);
}

function prefixes(field: string, list: readonly string[], family: 4 | 6): XdpPrefixEntry[] {
  if (!Array.isArray(list))
    throw invalid(
      `${field} must be a list of prefixes, e.g. ['${family === 6 ? '64:ff9b::/96' : '198.51.100.0/24'}']`,
    );
  return list.map((text, i) => {
    const parsed = family === 6 ? parseIpv6Prefix(String(text)) : parseIpv4Prefix(String(text));
    if (isPrefixParseFailure(parsed)) throw invalid(`${field}[${i}]: ${parsed.error}`);
    const bytes =
      family === 6
        ? new Uint8Array(parsed.address as Uint8Array)
        : Uint8Array.of(
            (parsed.address as number) >>> 24,
            ((parsed.address as number) >>> 16) & 0xff,
            ((parsed.address as number) >>> 8) & 0xff,
            (parsed.address as number) & 0xff,
          );
    return { bytes, length: parsed.length };
  });
}

export function openXdpPort(options: OpenXdpPortOptions): XdpPort {
  const queues = options.queues ?? 1;
  const framesPerQueue = options.framesPerQueue ?? 4096;
  const frameSizeBytes = options.frameSizeBytes ?? 4096;
  const ringSize = options.ringSize ?? 2048;
  const mode = options.mode ?? 'auto';
  const name = options.interfaceName;
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > 15)
    throw invalid(`interfaceName must be an interface name of 1..15 bytes, got '${name}'`);
  if (!(Number.isInteger(queues) && queues >= 1 && queues <= 64))
    throw invalid(`queues must be 1..64 (one AF_XDP socket per receive queue), got ${queues}`);
  if (frameSizeBytes !== 2048 && frameSizeBytes !== 4096)
    throw invalid(`frameSizeBytes must be 2048 or 4096, got ${frameSizeBytes}`);
  if (!(Number.isInteger(ringSize) && ringSize >= 64 && (ringSize & (ringSize - 1)) === 0))
    throw invalid(`ringSize must be a power of two ≥ 64, got ${ringSize}`);
  if (!(Number.isInteger(framesPerQueue) && framesPerQueue >= ringSize))
    throw invalid(`framesPerQueue must be an integer ≥ ringSize (${ringSize}), got ${framesPerQueue}`);
  if (mode !== 'auto' && mode !== 'native' && mode !== 'generic')
    throw invalid(`mode must be 'auto', 'native' or 'generic', got '${mode}'`);
  const pref64 = prefixes('pref64', options.pref64, 6);
  const pool4 = prefixes('pool4', options.pool4, 4);
  if (pref64.length === 0 && pool4.length === 0)
    throw invalid('pref64 and pool4 are both empty: nothing would be redirected; give the PLAT prefixes');

  const native = loadNative();
  let opened: ReturnType<XdpNative['open']> | undefined;
  // A socket of a process that just died may still hold the queue for a moment (the kernel releases
  // it asynchronously): EBUSY from the socket bind is retried for up to ~2 s, other errors are not.
  for (let attempt = 0; opened === undefined; attempt++) {
    try {
      opened = openOnce(
        native,
        options,
        name,
        queues,
        framesPerQueue,
        frameSizeBytes,
        ringSize,
        mode,
        pref64,
        pool4,
      );
    } catch (error) {
      const cause = (error as XdpError).cause as { code?: string; syscall?: string } | undefined;
      if (attempt >= 20 || cause?.code !== 'EBUSY' || cause.syscall !== 'xsk_socket__create') throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  return portOf(native, opened, options, name, queues, frameSizeBytes, framesPerQueue);
}

function openOnce(
  native: XdpNative,
  options: OpenXdpPortOptions,
  name: string,
  queues: number,
  framesPerQueue: number,
  frameSizeBytes: number,
  ringSize: number,
  mode: 'auto' | 'native' | 'generic',
  pref64: XdpPrefixEntry[],
  pool4: XdpPrefixEntry[],
): ReturnType<XdpNative['open']> {
  try {
    return native.open({
      ifname: name,
      netnsPath: options.netnsPath,
      programPath: programPath(),
      queues,
      frames: framesPerQueue,
      frameSize: frameSizeBytes,
      ringSize,
      mode,
      pref64,
      pool4,
    });
  } catch (error) {
    throw wrapNativeError(XdpErrorCode.open, `cannot attach XDP to ${name}`, error);
  }
}

function portOf(
  native: XdpNative,
  opened: ReturnType<XdpNative['open']>,
  options: OpenXdpPortOptions,
  name: string,
  queues: number,
  frameSizeBytes: number,
  framesPerQueue: number,
): XdpPort {
  const { handle } = opened;
  let closed = false;
  const statsOut = new Float64Array(12);
  const checkQueue = (q: number) => {
    if (closed) throw invalid(`XDP port on ${name} is closed`);
    if (!(Number.isInteger(q) && q >= 0 && q < queues))
      throw invalid(`queue must be 0..${queues - 1}, got ${q}`);
  };
  return {
    interfaceName: name,
    netnsPath: options.netnsPath,
    handle,
    ifindex: opened.ifindex,
    mode: opened.mode,
    zeroCopy: opened.zeroCopy,
    zeroCopyRefused: opened.zeroCopyRefused,
    replacedStale: opened.replacedStale,
    programId: opened.programId,
    queueCount: queues,
    frameSizeBytes,
    framesPerQueue,
    native,
    umem(queue) {
      checkQueue(queue);
      return Buffer.from(native.umem(handle, queue));
    },
    queueStats(queue) {
      checkQueue(queue);
      native.stats(handle, queue, statsOut);
      const s = statsOut;
      return {
        rxDropped: s[0],
        rxInvalid: s[1],
        txInvalid: s[2],
        rxRingFull: s[3],
        fillRingEmpty: s[4],
        txRingEmpty: s[5],
        txRefused: s[6],
        txNoFrame: s[7],
        wakeups: s[8],
        polls: s[9],
        freeFrames: s[10],
        txRingFull: s[11],
      };
    },
    programStats() {
      if (closed) throw invalid(`XDP port on ${name} is closed`);
      return native.programStats(handle);
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        native.close(handle);
      } catch (error) {
        throw wrapNativeError(XdpErrorCode.close, `closing XDP on ${name}`, error);
      }
    },
    get closed() {
      return closed;
    },
  };
}

/** Detaches a program a crashed xlat64 left on the interface; true if there was one. */
export function detachStaleProgram(interfaceName: string, netnsPath?: string): boolean {
  try {
    return loadNative().detachStale(interfaceName, netnsPath);
  } catch (error) {
    throw wrapNativeError(
      XdpErrorCode.close,
      `cannot detach the stale XDP program from ${interfaceName}`,
      error,
    );
  }
}

/** The XDP program attached to an interface, or null (for status and tests). */
export function attachedProgram(
  interfaceName: string,
  netnsPath?: string,
): { id: number; name: string; mode: string } | null {
  return loadNative().attachedProgram(interfaceName, netnsPath);
}
