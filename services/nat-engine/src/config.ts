// Engine configuration: the plain object an operator writes, and its validation into a resolved form.
// Minimums come from RFC 4787 REQ-5 (UDP >= 2 min), RFC 5382 REQ-5 (TCP established >= 2 h 4 min,
// transitory >= 4 min), RFC 5508 REQ-1 (ICMP query >= 60 s), RFC 6146 sec. 4 (TCP_INCOMING_SYN 6 s)
// and RFC 6888 / RFC 7857 (a freed port is not reused for 120 s). Bad values are refused, never clamped.
import { ipv6Mask, parseIpv4, parseIpv6 } from './address.js';
import { NatConfigError } from './errors.js';
import { PROTOCOL_SLOTS, type ProtocolName } from './flow-key.js';
import { parsePool4 } from './pool4/pool-text.js';
import { IPV6_MASKS, SubscriberLengths } from './subscriber-lengths.js';

export type FilteringBehaviour = 'endpoint-independent' | 'address-dependent';

export interface StaticBibEntryInput {
  protocol: ProtocolName;
  /** The subscriber's IPv6 address, e.g. '2001:db8:0:100::10'. */
  ipv6: string;
  ipv6Port: number;
  /** A pool address. */
  ipv4: string;
  /** Outside the protocol's dynamic port range (that range belongs to port blocks). */
  ipv4Port: number;
}

export interface NatEngineConfigInput {
  /** IPv4 pool: prefixes ('203.0.113.0/24'), ranges ('198.51.100.10-198.51.100.20') or addresses; must not overlap. */
  pool: readonly string[];
  /** Dynamic port range per protocol as [first, last]; default [1024, 65535] for each. */
  ports?: Partial<Record<ProtocolName, readonly [number, number]>>;
  /** Ports per block; must divide every protocol's range. Default 512. */
  blockSizePorts?: number;
  /** Subscriber key = IPv6 source masked to this length. Default 56. */
  subscriberPrefixLength?: number;
  /** Blocks a subscriber may hold per protocol. Default 4. */
  subscriberBlocksMax?: number;
  /** Sessions (all protocols) a subscriber may hold. Default 8192. */
  subscriberSessionsMax?: number;
  /** RFC 4787 filtering. Default 'endpoint-independent'. */
  filtering?: FilteringBehaviour;
  /** Drop every externally initiated TCP connection (RFC 6146 sec. 3.5.2.2 security policy). Default false. */
  dropExternallyInitiatedTcp?: boolean;
  timeouts?: {
    udpMs?: number;
    tcpEstablishedMs?: number;
    tcpTransitoryMs?: number;
    icmpMs?: number;
  };
  /** A freed port is not handed out again for this long (RFC 6888). Default and minimum 120 s. */
  portReuseHoldMs?: number;
  /** A block with no mapping is returned to the pool after this long; at least portReuseHoldMs. Default 120 s. */
  blockIdleTimeoutMs?: number;
  /**
   * A session's lifetime refresh is published only when the lifetime the log holds for it would end within
   * this long (see README "Refresh volume"): the bound on how stale a replica's lifetimes may get, and the
   * time a refresh has to reach the log. Default 20 s; less than half the shortest timeout.
   */
  refreshLeadMs?: number;
  /** Table bounds, sized at start-up. At the bound, new flows are dropped and counted; nothing is evicted. */
  sessionsMax?: number;
  mappingsMax?: number;
  subscribersMax?: number;
  leasedBlocksMax?: number;
  heldSynsMax?: number;
  /** Static BIB entries (port forwards). */
  staticBib?: readonly StaticBibEntryInput[];
  /** RFC 7422 deterministic mode: subscribers inside this IPv6 prefix get address and block by formula. */
  deterministic?: { ipv6Prefix: string };
}

export interface ProtocolPorts {
  readonly portFirst: number;
  readonly portLast: number;
  readonly blocksPerAddress: number;
}

export interface StaticBibEntry {
  readonly protocolSlot: number;
  readonly ipv6: Uint32Array;
  readonly ipv6Port: number;
  readonly ipv4: number;
  readonly ipv4Port: number;
}

export interface NatEngineConfig {
  /** Sorted, non-overlapping inclusive ranges; `rangeBase[i]` is the address index of `rangeFirst[i]`. */
  readonly rangeFirst: Uint32Array;
  readonly rangeLast: Uint32Array;
  readonly rangeBase: Uint32Array;
  readonly poolAddressCount: number;
  readonly protocols: readonly ProtocolPorts[];
  readonly blockSizePorts: number;
  readonly subscriberPrefixLength: number;
  readonly subscriberMask: Uint32Array;
  /**
   * Lengths other than subscriberPrefixLength for some source prefixes (tenants that delegate longer
   * prefixes); empty unless a worker sets them. Mutable: a live tenant change replaces its rules.
   */
  readonly subscriberLengths: SubscriberLengths;
  readonly subscriberBlocksMax: number;
  readonly subscriberSessionsMax: number;
  readonly addressDependentFiltering: boolean;
  readonly dropExternallyInitiatedTcp: boolean;
  readonly udpTimeoutMs: number;
  readonly tcpEstablishedTimeoutMs: number;
  readonly tcpTransitoryTimeoutMs: number;
  readonly icmpTimeoutMs: number;
  readonly tcpIncomingSynHoldMs: number;
  readonly portReuseHoldMs: number;
  readonly blockIdleTimeoutMs: number;
  readonly refreshLeadMs: number;
  readonly sessionsMax: number;
  readonly mappingsMax: number;
  readonly subscribersMax: number;
  readonly leasedBlocksMax: number;
  readonly heldSynsMax: number;
  readonly totalBlocks: number;
  readonly staticBib: readonly StaticBibEntry[];
  readonly deterministic: { readonly prefix: Uint32Array; readonly prefixLength: number } | null;
}

export const MINUTE_MS = 60_000;
/** RFC 4787 REQ-5: at least 2 minutes; 5 minutes recommended. */
export const UDP_TIMEOUT_MIN_MS = 2 * MINUTE_MS;
/** RFC 5382 REQ-5: at least 2 hours 4 minutes. */
export const TCP_ESTABLISHED_TIMEOUT_MIN_MS = 124 * MINUTE_MS;
/** RFC 5382 REQ-5 / RFC 6146 TCP_TRANS: at least 4 minutes. */
export const TCP_TRANSITORY_TIMEOUT_MIN_MS = 4 * MINUTE_MS;
/** RFC 5508 REQ-1: at least 60 seconds. */
export const ICMP_TIMEOUT_MIN_MS = MINUTE_MS;
/** RFC 6146 TCP_INCOMING_SYN. */
export const TCP_INCOMING_SYN_HOLD_MS = 6_000;
/** RFC 6888 / RFC 7857: a freed port is not reused for 120 s. */
export const PORT_REUSE_HOLD_MIN_MS = 120_000;
/** Bound on the block table (every block of every pool address and protocol has a row). */
export const TOTAL_BLOCKS_MAX = 1 << 22;
/** Table rows are numbered in 24 bits inside the indexes (tables/hash.ts). */
const TABLE_MAX = (1 << 24) - 2;
/** Default subscribersMax cap when sized from the pool (~70 bytes per subscriber row: ~18 MB). */
const SUBSCRIBERS_DEFAULT_MAX = 262_144;
/** Default leasedBlocksMax budget in leased ports (4 bytes each: 64 MiB of slabs). */
const SLAB_PORTS_DEFAULT_BUDGET = 1 << 24;

function integerIn(field: string, value: unknown, min: number, max: number, fix: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new NatConfigError(field, `expected an integer, got ${JSON.stringify(value)}`, fix);
  }
  if (value < min || value > max) throw new NatConfigError(field, `${value} is outside ${min}..${max}`, fix);
  return value;
}

/**
 * The subscriber key (DESIGN.md "Sharding"): an IPv6 address (four words) masked to
 * `subscriberPrefixLength`, written into `out`. The one place it is computed: the engine's limits and
 * port blocks, the reducer's replay and the shard routing all key subscribers by it. No allocation.
 */
export function subscriberPrefixOf(config: NatEngineConfig, v6: ArrayLike<number>, out: Uint32Array): void {
  const rules = config.subscriberLengths;
  if (rules.table === null) {
    const mask = config.subscriberMask;
    out[0] = (v6[0] & mask[0]) >>> 0;
    out[1] = (v6[1] & mask[1]) >>> 0;
    out[2] = (v6[2] & mask[2]) >>> 0;
    out[3] = (v6[3] & mask[3]) >>> 0;
    return;
  }
  const at = rules.lengthOf(v6[0] | 0, v6[1] | 0, config.subscriberPrefixLength) * 4;
  out[0] = (v6[0] & IPV6_MASKS[at]) >>> 0;
  out[1] = (v6[1] & IPV6_MASKS[at + 1]) >>> 0;
  out[2] = (v6[2] & IPV6_MASKS[at + 2]) >>> 0;
  out[3] = (v6[3] & IPV6_MASKS[at + 3]) >>> 0;
}

/** Validates an operator's configuration; throws NatConfigError naming the first bad field. */
export function validateConfig(input: NatEngineConfigInput): NatEngineConfig {
  if (input === null || typeof input !== 'object') {
    throw new NatConfigError('config', 'expected an object', 'pass at least { pool: [...] }');
  }
  if (!Array.isArray(input.pool) || input.pool.length === 0) {
    throw new NatConfigError(
      'pool',
      'no IPv4 pool given',
      "list at least one prefix, e.g. pool: ['203.0.113.0/24']",
    );
  }
  const ranges = parsePool4(input.pool).map((range, index) => ({ index, range: [range.first, range.last] }));
  const sorted = [...ranges].sort((a, b) => a.range[0] - b.range[0]);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].range[0] <= sorted[i - 1].range[1]) {
      const a = Math.min(sorted[i].index, sorted[i - 1].index);
      const b = Math.max(sorted[i].index, sorted[i - 1].index);
      throw new NatConfigError(
        `pool[${b}]`,
        `'${input.pool[b]}' overlaps pool[${a}] '${input.pool[a]}'`,
        'remove the overlap so every pool address is listed once',
      );
    }
  }
  const rangeFirst = new Uint32Array(sorted.length);
  const rangeLast = new Uint32Array(sorted.length);
  const rangeBase = new Uint32Array(sorted.length);
  let poolAddressCount = 0;
  sorted.forEach((s, i) => {
    rangeFirst[i] = s.range[0];
    rangeLast[i] = s.range[1];
    rangeBase[i] = poolAddressCount;
    poolAddressCount += s.range[1] - s.range[0] + 1;
  });

  const blockSizePorts = integerIn(
    'blockSizePorts',
    input.blockSizePorts ?? 512,
    1,
    65536,
    'choose a block size that divides every port range, e.g. 512 for 1024-65535',
  );
  const protocols: ProtocolPorts[] = [];
  for (let slot = 0; slot < PROTOCOL_SLOTS.length; slot++) {
    const name = PROTOCOL_SLOTS[slot];
    const field = `ports.${name}`;
    const range = input.ports?.[name] ?? [1024, 65535];
    if (!Array.isArray(range) || range.length !== 2) {
      throw new NatConfigError(field, 'expected [first, last]', 'write e.g. [1024, 65535]');
    }
    const portFirst = integerIn(`${field}[0]`, range[0], 0, 65535, 'ports are 0..65535');
    const portLast = integerIn(`${field}[1]`, range[1], 0, 65535, 'ports are 0..65535');
    if (portLast < portFirst)
      throw new NatConfigError(field, `${portLast} < ${portFirst}`, 'write [first, last]');
    const size = portLast - portFirst + 1;
    if (size % blockSizePorts !== 0) {
      throw new NatConfigError(
        'blockSizePorts',
        `${blockSizePorts} does not divide the ${name} range ${portFirst}-${portLast} (${size} ports)`,
        'choose a block size that divides every port range, or adjust the range',
      );
    }
    protocols.push({ portFirst, portLast, blocksPerAddress: size / blockSizePorts });
  }
  const totalBlocks = protocols.reduce((n, p) => n + p.blocksPerAddress * poolAddressCount, 0);
  if (totalBlocks > TOTAL_BLOCKS_MAX) {
    throw new NatConfigError(
      'blockSizePorts',
      `the pool makes ${totalBlocks} blocks, more than ${TOTAL_BLOCKS_MAX}`,
      'use larger blocks or a smaller pool per engine',
    );
  }

  const subscriberPrefixLength = integerIn(
    'subscriberPrefixLength',
    input.subscriberPrefixLength ?? 56,
    32,
    128,
    'use the length delegated to one subscriber, e.g. 56',
  );
  const subscriberMask = new Uint32Array(4);
  ipv6Mask(subscriberPrefixLength, subscriberMask);

  const filtering = input.filtering ?? 'endpoint-independent';
  if (filtering !== 'endpoint-independent' && filtering !== 'address-dependent') {
    throw new NatConfigError(
      'filtering',
      `unknown behaviour ${JSON.stringify(filtering)}`,
      "use 'endpoint-independent' or 'address-dependent'",
    );
  }
  const t = input.timeouts ?? {};
  const timeout = (name: string, value: number | undefined, dflt: number, min: number, rfc: string): number =>
    integerIn(`timeouts.${name}`, value ?? dflt, min, 2 ** 40, `${rfc} requires at least ${min} ms`);
  const udpTimeoutMs = timeout('udpMs', t.udpMs, 5 * MINUTE_MS, UDP_TIMEOUT_MIN_MS, 'RFC 4787 REQ-5');
  const tcpEstablishedTimeoutMs = timeout(
    'tcpEstablishedMs',
    t.tcpEstablishedMs,
    TCP_ESTABLISHED_TIMEOUT_MIN_MS,
    TCP_ESTABLISHED_TIMEOUT_MIN_MS,
    'RFC 5382 REQ-5',
  );
  const tcpTransitoryTimeoutMs = timeout(
    'tcpTransitoryMs',
    t.tcpTransitoryMs,
    TCP_TRANSITORY_TIMEOUT_MIN_MS,
    TCP_TRANSITORY_TIMEOUT_MIN_MS,
    'RFC 5382 REQ-5',
  );
  const icmpTimeoutMs = timeout(
    'icmpMs',
    t.icmpMs,
    ICMP_TIMEOUT_MIN_MS,
    ICMP_TIMEOUT_MIN_MS,
    'RFC 5508 REQ-1',
  );
  const portReuseHoldMs = integerIn(
    'portReuseHoldMs',
    input.portReuseHoldMs ?? PORT_REUSE_HOLD_MIN_MS,
    PORT_REUSE_HOLD_MIN_MS,
    2 ** 32,
    'RFC 6888 requires a freed port to be held at least 120000 ms',
  );
  const blockIdleTimeoutMs = integerIn(
    'blockIdleTimeoutMs',
    input.blockIdleTimeoutMs ?? portReuseHoldMs,
    portReuseHoldMs,
    2 ** 40,
    'a block must stay leased at least portReuseHoldMs after its last mapping, so freed ports keep their hold',
  );
  const shortestTimeoutMs = Math.min(udpTimeoutMs, tcpTransitoryTimeoutMs, icmpTimeoutMs);
  const refreshLeadMs = integerIn(
    'refreshLeadMs',
    input.refreshLeadMs ?? Math.min(20_000, Math.floor(shortestTimeoutMs / 2)),
    100,
    Math.floor(shortestTimeoutMs / 2),
    'give a refresh time to reach the log, but less than half the shortest session timeout',
  );

  const sessionsMax = integerIn(
    'sessionsMax',
    input.sessionsMax ?? 262_144,
    1,
    TABLE_MAX,
    'size for peak sessions',
  );
  const mappingsMax = integerIn(
    'mappingsMax',
    input.mappingsMax ?? sessionsMax,
    1,
    TABLE_MAX,
    'size for peak BIB',
  );
  // Unless configured, the subscriber and leased-block bounds follow the pool: every subscriber holds
  // at least one block, so the pool serves at most as many subscribers as its largest protocol has
  // blocks; and every block can be leased, up to a memory budget for the per-port slabs. A lab run
  // with fixed defaults (16,384) refused subscribers while a /24 still had ~32,000 free UDP blocks.
  const largestProtocolBlocks = Math.max(...protocols.map((p) => p.blocksPerAddress * poolAddressCount));
  const subscribersMax = integerIn(
    'subscribersMax',
    input.subscribersMax ?? Math.min(largestProtocolBlocks, SUBSCRIBERS_DEFAULT_MAX),
    1,
    TABLE_MAX,
    'size for the subscribers of one engine',
  );
  const leasedBlocksMax = integerIn(
    'leasedBlocksMax',
    input.leasedBlocksMax ??
      Math.max(1, Math.min(totalBlocks, Math.floor(SLAB_PORTS_DEFAULT_BUDGET / blockSizePorts))),
    1,
    TABLE_MAX,
    'size for the blocks leased at once (each costs 4 bytes per port)',
  );
  const heldSynsMax = integerIn(
    'heldSynsMax',
    input.heldSynsMax ?? 4096,
    1,
    TABLE_MAX,
    'size for SYN bursts',
  );
  const subscriberBlocksMax = integerIn(
    'subscriberBlocksMax',
    input.subscriberBlocksMax ?? 4,
    1,
    65536,
    'give each subscriber at least one block per protocol',
  );
  const subscriberSessionsMax = integerIn(
    'subscriberSessionsMax',
    input.subscriberSessionsMax ?? 8192,
    1,
    TABLE_MAX,
    'give each subscriber at least one session',
  );

  const staticBib: StaticBibEntry[] = [];
  (input.staticBib ?? []).forEach((entry, i) => {
    const field = `staticBib[${i}]`;
    const resolved = resolveStaticBibEntry(field, entry, protocols, rangeFirst, rangeLast, rangeBase);
    for (let j = 0; j < staticBib.length; j++) {
      const o = staticBib[j];
      if (
        o.protocolSlot === resolved.protocolSlot &&
        o.ipv4 === resolved.ipv4 &&
        o.ipv4Port === resolved.ipv4Port
      ) {
        throw new NatConfigError(
          `${field}.ipv4Port`,
          `duplicates staticBib[${j}]`,
          'give each entry its own port',
        );
      }
    }
    staticBib.push(resolved);
  });

  let deterministic: NatEngineConfig['deterministic'] = null;
  if (input.deterministic !== undefined) {
    const text = input.deterministic.ipv6Prefix;
    const slash = typeof text === 'string' ? text.indexOf('/') : -1;
    const prefix = new Uint32Array(4);
    const length = slash > 0 ? Number(text.slice(slash + 1)) : Number.NaN;
    if (slash < 0 || !parseIpv6(text.slice(0, slash), prefix) || !Number.isInteger(length)) {
      throw new NatConfigError(
        'deterministic.ipv6Prefix',
        `'${text}' is not an IPv6 prefix`,
        'write e.g. 2001:db8::/40',
      );
    }
    if (length > subscriberPrefixLength || subscriberPrefixLength - length > 30) {
      throw new NatConfigError(
        'deterministic.ipv6Prefix',
        `/${length} must be at most 30 bits shorter than subscriberPrefixLength /${subscriberPrefixLength}`,
        'use a prefix that covers the subscribers of this pool',
      );
    }
    const mask = new Uint32Array(4);
    ipv6Mask(length, mask);
    for (let i = 0; i < 4; i++) prefix[i] = (prefix[i] & mask[i]) >>> 0;
    deterministic = { prefix, prefixLength: length };
  }

  return {
    rangeFirst,
    rangeLast,
    rangeBase,
    poolAddressCount,
    protocols,
    blockSizePorts,
    subscriberPrefixLength,
    subscriberMask,
    subscriberLengths: new SubscriberLengths(),
    subscriberBlocksMax,
    subscriberSessionsMax,
    addressDependentFiltering: filtering === 'address-dependent',
    dropExternallyInitiatedTcp: input.dropExternallyInitiatedTcp === true,
    udpTimeoutMs,
    tcpEstablishedTimeoutMs,
    tcpTransitoryTimeoutMs,
    icmpTimeoutMs,
    tcpIncomingSynHoldMs: TCP_INCOMING_SYN_HOLD_MS,
    portReuseHoldMs,
    blockIdleTimeoutMs,
    refreshLeadMs,
    sessionsMax,
    mappingsMax,
    subscribersMax,
    leasedBlocksMax,
    heldSynsMax,
    totalBlocks,
    staticBib,
    deterministic,
  };
}

/** Validates one static BIB entry against the pool and port ranges; throws NatConfigError naming `field`. */
export function resolveStaticBibEntry(
  field: string,
  entry: StaticBibEntryInput,
  protocols: readonly ProtocolPorts[],
  rangeFirst: Uint32Array,
  rangeLast: Uint32Array,
  rangeBase: Uint32Array,
): StaticBibEntry {
  if (entry === null || typeof entry !== 'object') {
    throw new NatConfigError(
      field,
      'expected an object',
      'write { protocol, ipv6, ipv6Port, ipv4, ipv4Port }',
    );
  }
  const slot = PROTOCOL_SLOTS.indexOf(entry.protocol);
  if (slot < 0)
    throw new NatConfigError(`${field}.protocol`, `unknown ${entry.protocol}`, 'use tcp, udp or icmp');
  const ipv6 = new Uint32Array(4);
  if (typeof entry.ipv6 !== 'string' || !parseIpv6(entry.ipv6, ipv6)) {
    throw new NatConfigError(
      `${field}.ipv6`,
      `'${entry.ipv6}' is not an IPv6 address`,
      'write e.g. 2001:db8::10',
    );
  }
  const ipv4 = typeof entry.ipv4 === 'string' ? parseIpv4(entry.ipv4) : -1;
  if (ipv4 < 0 || addressIndexIn(rangeFirst, rangeLast, rangeBase, ipv4) < 0) {
    throw new NatConfigError(
      `${field}.ipv4`,
      `'${entry.ipv4}' is not a pool address`,
      'use an address of pool',
    );
  }
  const ipv6Port = integerIn(`${field}.ipv6Port`, entry.ipv6Port, 0, 65535, 'ports are 0..65535');
  const ipv4Port = integerIn(`${field}.ipv4Port`, entry.ipv4Port, 0, 65535, 'ports are 0..65535');
  const p = protocols[slot];
  if (ipv4Port >= p.portFirst && ipv4Port <= p.portLast) {
    throw new NatConfigError(
      `${field}.ipv4Port`,
      `${ipv4Port} is inside the dynamic ${entry.protocol} range ${p.portFirst}-${p.portLast} used by port blocks`,
      `pick a port outside that range or shrink ports.${entry.protocol}`,
    );
  }
  return { protocolSlot: slot, ipv6, ipv6Port, ipv4, ipv4Port };
}

/** Address index of a pool address (0 .. poolAddressCount-1), or -1 when not in the pool. Binary search. */
export function addressIndexIn(
  first: Uint32Array,
  last: Uint32Array,
  base: Uint32Array,
  address: number,
): number {
  let lo = 0;
  let hi = first.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (address < first[mid]) hi = mid - 1;
    else if (address > last[mid]) lo = mid + 1;
    else return base[mid] + (address - first[mid]);
  }
  return -1;
}

/** The pool address with a given index. */
export function addressAt(config: NatEngineConfig, index: number): number {
  let lo = 0;
  let hi = config.rangeBase.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (config.rangeBase[mid] <= index) lo = mid;
    else hi = mid - 1;
  }
  return (config.rangeFirst[lo] + (index - config.rangeBase[lo])) >>> 0;
}
