// Next-hop MAC addresses for frames an AF_XDP queue sends (RFC 826 ARP / RFC 4861 NDP stay the
// kernel's job): a longest-prefix match over the interface's routes gives the next hop, a typed-array
// hash table of the kernel's neighbour entries gives its MAC. Both tables are read with `ip -j route` /
// `ip -j neigh` at start; after that, neighbour changes arrive on an rtnetlink socket and are applied
// entry by entry (route and link changes trigger a full re-read). A missed next hop is added to the
// kernel as a `managed` neighbour, so the kernel resolves it and keeps it fresh. Lookups and change
// handling are allocation-free; refresh() is control plane (it runs `ip`).
import { execFileSync } from 'node:child_process';
import { parseIpv4Address, parseIpv6Address } from '../../xlat/src/index.js';
import { XdpError, XdpErrorCode } from './errors.js';
import { parseMac } from './ethernet.js';
import { loadNative } from './native.js';

export interface NeighbourTableOptions {
  /** The interface frames leave through. */
  interfaceName: string;
  /** Network namespace name (as `ip -n`), when the interface is not in this process's namespace. */
  netns?: string;
  /** Neighbour entries held at most (power of two). At the bound further entries are ignored. Default 1024. */
  capacity?: number;
  /** Shortest time between two refreshes triggered by misses. Default 100 ms. */
  refreshMinIntervalMs?: number;
  /** Runs `ip` with these arguments and returns stdout (injected by tests). Default: execFileSync. */
  runIp?: (args: readonly string[]) => string;
  /** Apply the kernel's neighbour changes from rtnetlink between refreshes. Default true. */
  watch?: boolean;
  /** How often maintain() reads pending rtnetlink changes. Default 10 ms. */
  watchIntervalMs?: number;
}

export interface NeighbourStats {
  hits: number;
  /** Lookups whose next hop had no usable MAC (the frame is dropped by the caller). */
  misses: number;
  /** Lookups with no route through this interface. */
  noRoute: number;
  refreshes: number;
  /** Neighbour changes applied from rtnetlink. */
  changes: number;
  /** Next hops handed to the kernel to resolve (ip neigh replace ... managed). */
  resolutions: number;
}

interface RouteJson {
  dst?: string;
  gateway?: string;
}

interface NeighbourJson {
  dst?: string;
  lladdr?: string;
  state?: string[];
}

const PENDING_MAX = 64;
const SLOT_VALID = 1;
const SLOT_FORGOTTEN = 2;
// linux/rtnetlink.h, linux/neighbour.h, linux/socket.h
const RTM_NEWLINK = 16;
const RTM_DELROUTE = 25;
const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const NDA_DST = 1;
const NDA_FLAGS_EXT = 15;
const NTF_EXT_LEARNED = 0x10;
const NTF_EXT_MANAGED = 0x01;
const NLM_F_REQUEST = 0x01;
const NLM_F_REPLACE = 0x100;
const NLM_F_CREATE = 0x400;
const NDA_LLADDR = 2;
const NUD_INCOMPLETE = 0x01;
const NUD_FAILED = 0x20;
const AF_INET = 2;
const AF_INET6 = 10;
const IPV4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function fnv(key: Uint8Array, offset: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i++) h = Math.imul(h ^ key[offset + i], 0x01000193);
  return h >>> 0;
}

export class NeighbourTable {
  readonly interfaceName: string;
  /** The interface's own MAC (the source of every frame sent). */
  readonly localMac = new Uint8Array(6);
  /**
   * The interface's MTU as of the last refresh (a link change, `ip link set IF mtu N` included,
   * triggers one): with AF_XDP the node is the router, so it must answer what no longer fits itself.
   */
  mtu = 0;
  readonly stats: NeighbourStats = {
    hits: 0,
    misses: 0,
    noRoute: 0,
    refreshes: 0,
    changes: 0,
    resolutions: 0,
  };

  private readonly netns: string | undefined;
  private readonly capacity: number;
  private readonly refreshMinIntervalMs: number;
  private readonly runIp: (args: readonly string[]) => string;
  private readonly keys: Uint8Array;
  private readonly used: Uint8Array;
  private readonly macs: Uint8Array;
  private readonly scratch = new Uint8Array(16);
  // Routes through the interface, longest prefix first. IPv4 as int32 (0 gateway = on-link).
  private routes4Network: number[] = [];
  private routes4Mask: number[] = [];
  private routes4Gateway: number[] = [];
  private routes6Prefix = new Uint8Array(0);
  private routes6Length: number[] = [];
  private routes6Gateway = new Uint8Array(0);
  private routes6HasGateway: boolean[] = [];
  private readonly pending = new Uint8Array(PENDING_MAX * 16);
  private pendingCount = 0;
  private lastRefreshMs = 0;
  private readonly added = new Set<string>();
  private readonly watch: boolean;
  private readonly watchIntervalMs: number;
  private ifindex = 0;
  private netlinkFd = -1;
  private readonly netlinkBuffer = new Uint8Array(1 << 16);
  private readonly netlinkView = new DataView(this.netlinkBuffer.buffer);
  private lastWatchMs = 0;
  private readonly requestBuffer = new Uint8Array(64);
  private readonly requestView = new DataView(this.requestBuffer.buffer);
  private requestSequence = 0;
  private routesChanged = false;

  constructor(options: NeighbourTableOptions) {
    const capacity = options.capacity ?? 1024;
    if (!(capacity >= 16 && (capacity & (capacity - 1)) === 0)) {
      throw new XdpError(
        XdpErrorCode.invalidOptions,
        `neighbours.capacity must be a power of two ≥ 16, got ${capacity}`,
      );
    }
    this.interfaceName = options.interfaceName;
    this.netns = options.netns;
    this.capacity = capacity;
    this.refreshMinIntervalMs = options.refreshMinIntervalMs ?? 100;
    this.runIp =
      options.runIp ??
      ((args) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    this.watch = options.watch ?? true;
    this.watchIntervalMs = options.watchIntervalMs ?? 10;
    this.keys = new Uint8Array(capacity * 16);
    this.used = new Uint8Array(capacity);
    this.macs = new Uint8Array(capacity * 6);
  }

  private ip(args: readonly string[]): string {
    const full = this.netns ? ['-n', this.netns, ...args] : [...args];
    try {
      return this.runIp(full);
    } catch (error) {
      throw new XdpError(
        XdpErrorCode.neighbours,
        `ip ${full.join(' ')} failed: ${(error as Error).message.split('\n')[0]}`,
        { cause: error },
      );
    }
  }

  /** Re-reads the interface's MAC, routes and neighbours from the kernel (control plane). */
  refresh(nowMs: number = Date.now()): void {
    // Subscribe before reading, so no change falls between the dump and the first notification.
    if (this.watch && this.netlinkFd < 0) {
      try {
        this.netlinkFd = loadNative().netlinkOpen(this.netns ? `/run/netns/${this.netns}` : undefined);
      } catch (error) {
        throw new XdpError(
          XdpErrorCode.neighbours,
          `cannot watch neighbour changes: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
    }
    const link = JSON.parse(this.ip(['-j', 'link', 'show', 'dev', this.interfaceName])) as {
      address?: string;
      ifindex?: number;
      mtu?: number;
    }[];
    const mac = link[0]?.address ? parseMac(link[0].address) : null;
    if (mac) this.localMac.set(mac);
    this.ifindex = link[0]?.ifindex ?? 0;
    this.mtu = link[0]?.mtu ?? 0;
    this.routesChanged = false;
    this.loadRoutes4(
      JSON.parse(this.ip(['-j', '-4', 'route', 'show', 'dev', this.interfaceName])) as RouteJson[],
    );
    this.loadRoutes6(
      JSON.parse(this.ip(['-j', '-6', 'route', 'show', 'dev', this.interfaceName])) as RouteJson[],
    );
    this.used.fill(0);
    const entries = JSON.parse(
      this.ip(['-j', 'neigh', 'show', 'dev', this.interfaceName]),
    ) as NeighbourJson[];
    for (const entry of entries) {
      const state = entry.state ?? [];
      if (!entry.dst || !entry.lladdr || state.includes('FAILED') || state.includes('INCOMPLETE')) continue;
      const lladdr = parseMac(entry.lladdr);
      if (!lladdr || !this.keyOf(entry.dst)) continue;
      this.insert(this.scratch, lladdr);
    }
    this.stats.refreshes++;
    this.lastRefreshMs = nowMs;
  }

  /**
   * Writes the next-hop MAC for IPv4 `destination` to out[outOffset..+6]; false on a miss. The
   * address is a signed or unsigned 32-bit number (kept as int32 inside: no heap numbers).
   */
  findIpv4(destination: number, out: Uint8Array, outOffset: number): boolean {
    const address = destination | 0;
    let nextHop = 0;
    let routed = false;
    for (let i = 0; i < this.routes4Network.length; i++) {
      if ((address & this.routes4Mask[i]) === this.routes4Network[i]) {
        nextHop = this.routes4Gateway[i] === 0 ? address : this.routes4Gateway[i];
        routed = true;
        break;
      }
    }
    if (!routed) {
      this.stats.noRoute++;
      return false;
    }
    const key = this.scratch;
    for (let i = 0; i < 12; i++) key[i] = IPV4_MAPPED_PREFIX[i];
    key[12] = (nextHop >>> 24) & 0xff;
    key[13] = (nextHop >>> 16) & 0xff;
    key[14] = (nextHop >>> 8) & 0xff;
    key[15] = nextHop & 0xff;
    return this.findKey(key, out, outOffset);
  }

  /** Writes the next-hop MAC for the IPv6 destination at address[offset..+16]; false on a miss. */
  findIpv6(address: Uint8Array, offset: number, out: Uint8Array, outOffset: number): boolean {
    const key = this.scratch;
    let found = false;
    for (let r = 0; r < this.routes6Length.length && !found; r++) {
      if (!this.prefixMatches(address, offset, r)) continue;
      found = true;
      if (this.routes6HasGateway[r]) for (let i = 0; i < 16; i++) key[i] = this.routes6Gateway[r * 16 + i];
      else for (let i = 0; i < 16; i++) key[i] = address[offset + i];
    }
    if (!found) {
      this.stats.noRoute++;
      return false;
    }
    return this.findKey(key, out, outOffset);
  }

  /**
   * After misses, at most every refreshMinIntervalMs: hands the missed next hops to the kernel as
   * managed neighbours and re-reads the tables. Call between batches. Returns true when it refreshed.
   */
  maintain(nowMs: number = Date.now()): boolean {
    if (this.netlinkFd >= 0 && nowMs - this.lastWatchMs >= this.watchIntervalMs) {
      this.lastWatchMs = nowMs;
      this.applyChanges();
    }
    // Missed next hops go to the kernel at once (not gated by the refresh interval): every dropped
    // frame until the entry resolves is traffic lost.
    if (this.pendingCount > 0) {
      for (let p = 0; p < this.pendingCount; p++) {
        const text = formatKey(this.pending, p * 16);
        // Again even if added before: the entry may have been deleted or failed since.
        try {
          if (this.netlinkFd >= 0) this.requestManaged(p * 16);
          else this.ip(['neigh', 'replace', text, 'dev', this.interfaceName, 'managed', 'extern_learn']);
          this.added.add(text);
          this.stats.resolutions++;
        } catch {
          // A kernel without managed neighbours (< 5.16): the kernel's own traffic may still resolve it.
        }
      }
      this.pendingCount = 0;
      // Watching, the resolved entries arrive as notifications; otherwise re-read the table (below).
      if (this.netlinkFd < 0) this.routesChanged = true;
    }
    if (this.routesChanged && nowMs - this.lastRefreshMs >= this.refreshMinIntervalMs) {
      this.refresh(nowMs);
      return true;
    }
    return false;
  }

  /**
   * Applies pending rtnetlink notifications: RTM_NEWNEIGH / RTM_DELNEIGH of this interface update
   * single entries; route and link changes (or lost notifications) mark the tables for a re-read.
   * Message layouts: linux/netlink.h (nlmsghdr), linux/neighbour.h (ndmsg, NDA_DST, NDA_LLADDR).
   */
  private applyChanges(): void {
    const view = this.netlinkView;
    const buffer = this.netlinkBuffer;
    const native = loadNative();
    for (;;) {
      const bytes = native.netlinkRead(this.netlinkFd, buffer);
      if (bytes === 0) return;
      if (bytes < 0) {
        this.routesChanged = true;
        continue;
      }
      let at = 0;
      while (at + 16 <= bytes) {
        const length = view.getUint32(at, true);
        const type = view.getUint16(at + 4, true);
        if (length < 16 || at + length > bytes) break;
        if (type === RTM_NEWNEIGH || type === RTM_DELNEIGH) this.applyNeighbour(at + 16, at + length, type);
        else if (type >= RTM_NEWLINK && type <= RTM_DELROUTE) this.routesChanged = true;
        at += (length + 3) & ~3;
      }
    }
  }

  private applyNeighbour(start: number, end: number, type: number): void {
    const view = this.netlinkView;
    const buffer = this.netlinkBuffer;
    if (start + 12 > end || view.getInt32(start + 4, true) !== this.ifindex) return;
    const family = buffer[start];
    const state = view.getUint16(start + 8, true);
    let destination = -1;
    let lladdr = -1;
    let at = start + 12;
    while (at + 4 <= end) {
      const length = view.getUint16(at, true);
      const kind = view.getUint16(at + 2, true) & 0x3fff;
      if (length < 4 || at + length > end) break;
      if (kind === NDA_DST) destination = at + 4;
      else if (kind === NDA_LLADDR && length - 4 === 6) lladdr = at + 4;
      at += (length + 3) & ~3;
    }
    if (destination < 0) return;
    const key = this.scratch;
    if (family === AF_INET) {
      for (let i = 0; i < 12; i++) key[i] = IPV4_MAPPED_PREFIX[i];
      for (let i = 0; i < 4; i++) key[12 + i] = buffer[destination + i];
    } else if (family === AF_INET6) {
      for (let i = 0; i < 16; i++) key[i] = buffer[destination + i];
    } else {
      return;
    }
    this.stats.changes++;
    const usable = type === RTM_NEWNEIGH && lladdr >= 0 && (state & (NUD_INCOMPLETE | NUD_FAILED)) === 0;
    if (usable) this.insertFrom(key, buffer, lladdr);
    else this.forget(key);
  }

  /** Removes the managed neighbour entries this table added and stops watching (call on stop). */
  close(): void {
    if (this.netlinkFd >= 0) {
      loadNative().netlinkClose(this.netlinkFd);
      this.netlinkFd = -1;
    }
    for (const text of this.added) {
      try {
        this.ip(['neigh', 'del', text, 'dev', this.interfaceName]);
      } catch {
        // Gone with the interface.
      }
    }
    this.added.clear();
  }

  private findKey(key: Uint8Array, out: Uint8Array, outOffset: number): boolean {
    const mask = this.capacity - 1;
    let slot = fnv(key, 0) & mask;
    for (let probe = 0; probe < this.capacity; probe++) {
      if (this.used[slot] === 0) break;
      if (this.keyEquals(slot, key)) {
        if (this.used[slot] !== SLOT_VALID) break; // forgotten (failed or deleted)
        for (let i = 0; i < 6; i++) out[outOffset + i] = this.macs[slot * 6 + i];
        this.stats.hits++;
        return true;
      }
      slot = (slot + 1) & mask;
    }
    this.stats.misses++;
    this.addPending(key);
    return false;
  }

  /**
   * Asks the kernel for a managed neighbour entry for the next hop at pending[at..+16], on the watch
   * socket: RTM_NEWNEIGH (create or replace), state NUD_NONE, NTF_EXT_LEARNED, NDA_DST and
   * NDA_FLAGS_EXT = NTF_EXT_MANAGED, what `ip neigh replace ADDR dev IF managed extern_learn` sends,
   * without running `ip`. The kernel resolves it at once and keeps it fresh.
   */
  private requestManaged(at: number): void {
    const b = this.requestBuffer;
    const view = this.requestView;
    const mapped = this.isMapped(at);
    const addressBytes = mapped ? 4 : 16;
    const length = 16 + 12 + 4 + addressBytes + 8;
    b.fill(0, 0, length);
    view.setUint32(0, length, true);
    view.setUint16(4, RTM_NEWNEIGH, true);
    view.setUint16(6, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, true);
    view.setUint32(8, ++this.requestSequence, true);
    b[16] = mapped ? AF_INET : AF_INET6;
    view.setInt32(20, this.ifindex, true);
    view.setUint16(24, 0, true); // NUD_NONE: the kernel resolves it
    b[26] = NTF_EXT_LEARNED;
    view.setUint16(28, 4 + addressBytes, true);
    view.setUint16(30, NDA_DST, true);
    for (let i = 0; i < addressBytes; i++) b[32 + i] = this.pending[at + 16 - addressBytes + i];
    const ext = 32 + addressBytes;
    view.setUint16(ext, 8, true);
    view.setUint16(ext + 2, NDA_FLAGS_EXT, true);
    view.setUint32(ext + 4, NTF_EXT_MANAGED, true);
    loadNative().netlinkSend(this.netlinkFd, b, length);
  }

  private isMapped(at: number): boolean {
    for (let i = 0; i < 12; i++) if (this.pending[at + i] !== IPV4_MAPPED_PREFIX[i]) return false;
    return true;
  }

  /** Queues a missed next hop for maintain(), once (many frames miss the same next hop). */
  private addPending(key: Uint8Array): void {
    for (let p = 0; p < this.pendingCount; p++) {
      let same = true;
      for (let i = 0; i < 16 && same; i++) same = this.pending[p * 16 + i] === key[i];
      if (same) return;
    }
    if (this.pendingCount === PENDING_MAX) return;
    for (let i = 0; i < 16; i++) this.pending[this.pendingCount * 16 + i] = key[i];
    this.pendingCount++;
  }

  private keyEquals(slot: number, key: Uint8Array): boolean {
    const base = slot * 16;
    for (let i = 0; i < 16; i++) if (this.keys[base + i] !== key[i]) return false;
    return true;
  }

  private insert(key: Uint8Array, mac: Uint8Array): void {
    this.insertFrom(key, mac, 0);
  }

  /** Adds or updates key -> mac[macOffset..+6]. At the capacity bound, further keys are ignored. */
  private insertFrom(key: Uint8Array, mac: Uint8Array, macOffset: number): void {
    const mask = this.capacity - 1;
    let slot = fnv(key, 0) & mask;
    for (let probe = 0; probe < this.capacity; probe++) {
      if (this.used[slot] === 0 || this.keyEquals(slot, key)) {
        for (let i = 0; i < 16; i++) this.keys[slot * 16 + i] = key[i];
        for (let i = 0; i < 6; i++) this.macs[slot * 6 + i] = mac[macOffset + i];
        this.used[slot] = SLOT_VALID;
        return;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Marks key's entry forgotten (kept as a tombstone so probe chains stay intact until a refresh). */
  private forget(key: Uint8Array): void {
    const mask = this.capacity - 1;
    let slot = fnv(key, 0) & mask;
    for (let probe = 0; probe < this.capacity; probe++) {
      if (this.used[slot] === 0) return;
      if (this.keyEquals(slot, key)) {
        this.used[slot] = SLOT_FORGOTTEN;
        return;
      }
      slot = (slot + 1) & mask;
    }
  }

  /** Fills this.scratch with the table key of an address text (IPv4 as ::ffff:a.b.c.d). */
  private keyOf(text: string): boolean {
    const v4 = parseIpv4Address(text);
    if (v4 !== null) {
      for (let i = 0; i < 12; i++) this.scratch[i] = IPV4_MAPPED_PREFIX[i];
      this.scratch[12] = v4 >>> 24;
      this.scratch[13] = (v4 >>> 16) & 0xff;
      this.scratch[14] = (v4 >>> 8) & 0xff;
      this.scratch[15] = v4 & 0xff;
      return true;
    }
    const v6 = parseIpv6Address(text);
    if (!v6) return false;
    this.scratch.set(v6);
    return true;
  }

  private prefixMatches(address: Uint8Array, offset: number, route: number): boolean {
    const length = this.routes6Length[route];
    const base = route * 16;
    let bits = length;
    for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      if ((address[offset + i] & mask) !== this.routes6Prefix[base + i]) return false;
    }
    return true;
  }

  private loadRoutes4(routes: RouteJson[]): void {
    const parsed: { network: number; length: number; gateway: number }[] = [];
    for (const route of routes) {
      if (!route.dst) continue;
      const [addressText, lengthText] = route.dst === 'default' ? ['0.0.0.0', '0'] : route.dst.split('/');
      const address = parseIpv4Address(addressText);
      const length = lengthText === undefined ? 32 : Number(lengthText);
      const gateway = route.gateway ? parseIpv4Address(route.gateway) : 0;
      if (address === null || gateway === null || !(length >= 0 && length <= 32)) continue;
      parsed.push({ network: address | 0, length, gateway: gateway | 0 });
    }
    parsed.sort((a, b) => b.length - a.length);
    this.routes4Network = parsed.map((r) => r.network);
    this.routes4Mask = parsed.map((r) => (r.length === 0 ? 0 : 0xffffffff << (32 - r.length)));
    this.routes4Gateway = parsed.map((r) => r.gateway);
  }

  private loadRoutes6(routes: RouteJson[]): void {
    const parsed: { prefix: Uint8Array; length: number; gateway: Uint8Array | null }[] = [];
    for (const route of routes) {
      if (!route.dst) continue;
      const [addressText, lengthText] = route.dst === 'default' ? ['::', '0'] : route.dst.split('/');
      const prefix = parseIpv6Address(addressText);
      const length = lengthText === undefined ? 128 : Number(lengthText);
      const gateway = route.gateway ? parseIpv6Address(route.gateway) : null;
      if (!prefix || (route.gateway && !gateway) || !(length >= 0 && length <= 128)) continue;
      parsed.push({ prefix, length, gateway });
    }
    parsed.sort((a, b) => b.length - a.length);
    this.routes6Prefix = new Uint8Array(parsed.length * 16);
    this.routes6Gateway = new Uint8Array(parsed.length * 16);
    parsed.forEach((r, i) => {
      this.routes6Prefix.set(r.prefix, i * 16);
      if (r.gateway) this.routes6Gateway.set(r.gateway, i * 16);
    });
    this.routes6Length = parsed.map((r) => r.length);
    this.routes6HasGateway = parsed.map((r) => r.gateway !== null);
  }
}

function formatKey(bytes: Uint8Array, offset: number): string {
  let mapped = true;
  for (let i = 0; i < 12; i++) if (bytes[offset + i] !== IPV4_MAPPED_PREFIX[i]) mapped = false;
  if (mapped)
    return `${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2)
    groups.push(((bytes[offset + i] << 8) | bytes[offset + i + 1]).toString(16));
  return groups.join(':');
}
