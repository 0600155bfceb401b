// Queue steering of a multi-queue TUN device: a BPF program (native/xlat64_steer.bpf.c, loaded by the
// xlat64_tun_steer addon) that the kernel asks, for every packet it routes into the device, which queue
// to put it on (TUNSETSTEERINGEBPF). It computes a virtual shard the way the PLAT's shard router does
// (IPv6: keyed hash of the source's subscriber key; IPv4: the destination's leased pool block, an ICMP
// error by the flow it quotes) and looks
// the shard's queue up; the router keeps the program's maps current. Whatever it cannot route gets a
// per-host-pair hash and is routed by the reading worker in JavaScript, as without steering.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { TunError, TunErrorCode, wrapNativeError } from './errors.js';
import { tunPackageDir } from './native.js';

interface SteerNative {
  steerLoad(objectPath: string, shardCount: number, blocksMax: number): number;
  steerAttach(handle: number, fd: number): void;
  steerDetach(fd: number): void;
  steerConfigure(handle: number, words: Uint32Array): void;
  steerSetShard(handle: number, shard: number, queue: number): void;
  steerSetBlock(handle: number, address: number, slotBlock: number, shard: number): boolean;
  steerTestRun(handle: number, packet: Uint8Array): number;
  steerClose(handle: number): void;
}

/** Words of the program's configuration (struct steer_config in xlat64_steer.bpf.c, the config map's value). */
export const STEER_CONFIG_WORDS = 17;

/** What the program routes, and how (all words are the router's own, see services/ingress/src/routing). */
export interface SteeringConfig {
  /** Virtual shards (a power of two). */
  shardCount: number;
  /** IPv6 by subscriber key: the prefix mask and hash key of each of the source's four words; null: not steered. */
  ipv6: { mask: ArrayLike<number>; keys: ArrayLike<number> } | null;
  /** IPv4 by pool block: each protocol slot's (tcp, udp, icmp) dynamic port range and the block size; null: not steered. */
  ipv4: { portFirst: ArrayLike<number>; portLast: ArrayLike<number>; blockSizePorts: number } | null;
}

let native: SteerNative | undefined;

function loadSteerNative(): SteerNative {
  if (native) return native;
  const file = process.env.XLAT64_TUN_STEER_ADDON ?? `${tunPackageDir()}build/Release/xlat64_tun_steer.node`;
  if (!existsSync(file)) {
    throw new TunError(
      TunErrorCode.addonMissing,
      `TUN steering addon not found at ${file}: run \`npm install\` (or \`npm run build:tun\`) in the checkout`,
    );
  }
  try {
    native = createRequire(import.meta.url)(file) as SteerNative;
  } catch (error) {
    throw new TunError(
      TunErrorCode.addonMissing,
      `TUN steering addon at ${file} failed to load (libbpf missing, or built for another Node?): ` +
        'run `sudo bash infra/scripts/ensure-system-deps.sh build` and `npm run build:tun`',
      { cause: error },
    );
  }
  return native;
}

export class TunSteering {
  private readonly native: SteerNative;

  private constructor(
    /** Process-wide: pass it to the queue workers, which update the maps through `TunSteering.of`. */
    readonly handle: number,
    native: SteerNative,
  ) {
    this.native = native;
  }

  /** Loads the program with maps for `shardCount` shards and up to `blocksMax` leased blocks. */
  static load(shardCount: number, blocksMax: number): TunSteering {
    const addon = loadSteerNative();
    const object = `${tunPackageDir()}build/xlat64_steer.bpf.o`;
    try {
      return new TunSteering(addon.steerLoad(object, shardCount, blocksMax), addon);
    } catch (error) {
      throw wrapNativeError(TunErrorCode.configure, `loading the TUN steering program ${object}`, error);
    }
  }

  /** The program loaded elsewhere in this process (another thread's `load`). */
  static of(handle: number): TunSteering {
    return new TunSteering(handle, loadSteerNative());
  }

  /** From now on the device of queue `fd` queues each packet where the program says. */
  attach(fd: number): void {
    try {
      this.native.steerAttach(this.handle, fd);
    } catch (error) {
      throw wrapNativeError(TunErrorCode.configure, 'attaching the TUN steering program', error);
    }
  }

  /** Back to the kernel's own queue choice for the device of queue `fd`. */
  static detach(fd: number): void {
    loadSteerNative().steerDetach(fd);
  }

  configure(config: SteeringConfig): void {
    const words = new Uint32Array(STEER_CONFIG_WORDS);
    words[0] = (config.ipv6 ? 1 : 0) | (config.ipv4 ? 2 : 0);
    words[1] = config.shardCount - 1;
    for (let i = 0; i < 4; i++) {
      words[2 + i] = config.ipv6 ? config.ipv6.mask[i] >>> 0 : 0;
      words[6 + i] = config.ipv6 ? config.ipv6.keys[i] >>> 0 : 0;
    }
    for (let slot = 0; slot < 3; slot++) {
      words[10 + slot] = config.ipv4 ? config.ipv4.portFirst[slot] : 0;
      words[13 + slot] = config.ipv4 ? config.ipv4.portLast[slot] : 0;
    }
    words[16] = config.ipv4 ? config.ipv4.blockSizePorts : 0;
    this.native.steerConfigure(this.handle, words);
  }

  /** Queue of virtual shard `shard` (-1: none, the packet is routed in JavaScript). */
  setShardQueue(shard: number, queue: number): void {
    this.native.steerSetShard(this.handle, shard, queue);
  }

  /**
   * Block `blockNumber` of protocol slot `slot` on pool `address` (uint32) belongs to `shard` (-1: no
   * longer leased). False when the map is full: that block is then routed in JavaScript.
   */
  setBlock(address: number, slot: number, blockNumber: number, shard: number): boolean {
    return this.native.steerSetBlock(this.handle, address >>> 0, ((slot << 24) | blockNumber) >>> 0, shard);
  }

  /** The program's answer for an IP packet (BPF_PROG_TEST_RUN); the kernel takes it modulo the queue count. */
  testRun(packet: Uint8Array): number {
    return this.native.steerTestRun(this.handle, packet);
  }

  /** Releases the program and its maps here (an attached device keeps the program until detached). */
  close(): void {
    this.native.steerClose(this.handle);
  }
}
