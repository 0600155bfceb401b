// Configuration of `xlat64 plat`, the single-node PLAT (stateful NAT64, RFC 6146, with RFC 6888
// port blocks) on a TUN device, with the embedded state (an append-only event log in stateDir).
// NAT behaviour options live under `nat` and are checked by the engine's own validator.

import { isAbsolute } from 'node:path';
import {
  configError,
  type RawConfig,
  readBoolean,
  readDeviceName,
  readInteger,
  readListenAddress,
  readOptionalString,
  readPrefix,
  readString,
  refuseUnknownKeys,
} from '../../../libs/dataplane/src/index.js';
import { ICMP_ERRORS_BURST_DEFAULT, ICMP_ERRORS_PER_SECOND_DEFAULT } from '../../../libs/packet/src/index.js';
import type { ListenAddress } from '../../../libs/telemetry/src/index.js';
import {
  type TranslatorConfigInput,
  validateConfig as validateTranslatorConfig,
} from '../../../libs/xlat/src/index.js';
import {
  formatIpv4,
  NatConfigError,
  type NatEngineConfigInput,
  parsePool4Entry,
  validateConfig as validateNatConfig,
} from '../../nat-engine/src/index.js';
import { type ComplianceConfig, parseComplianceConfig } from '../../state/src/index.js';
import { type PlatClusterConfig, parsePlatClusterConfig } from './cluster/plat-cluster-config.js';
import { type PlatStateConfig, parsePlatStateConfig } from './plat-state-config.js';
import { checkShardCount, VIRTUAL_SHARDS_DEFAULT, VIRTUAL_SHARDS_MAX } from './routing/index.js';
import { parseTenants, refuseNodeSharesInCluster, type TenantConfig } from './tenants/tenant-config.js';
import { parseUsageConfig, type UsageConfig } from './tenants/tenant-usage.js';

/** Most TUN queues (worker threads) of one PLAT: a ring per worker pair, so N * (N - 1) rings. */
export const QUEUES_MAX = 16;

export interface PlatConfig {
  device: string;
  /** Packet I/O: 'tun' (default; the kernel routes PREF64 and pool into the TUN device) or 'xdp'. */
  io: 'tun' | 'xdp';
  /** With io 'xdp': the Ethernet interface whose PREF64/pool traffic an XDP program steers to AF_XDP
   * (the IPv6 side, or both sides). */
  interface: string | undefined;
  /** With io 'xdp': the IPv4 side's interface when it is not `interface`. */
  interface4: string | undefined;
  /** With io 'xdp': 'auto' (native if the driver has it, else generic), 'native' or 'generic'. */
  xdpMode: 'auto' | 'native' | 'generic';
  prefix: string;
  allowNonGlobalIpv4: boolean;
  pool4: string[];
  /** TUN queues = worker threads, each owning a share of the virtual shards. */
  queues: number;
  /**
   * With several TUN queues: a BPF program tells the kernel which queue (worker) owns each packet's shard
   * (libs/tun TunSteering), so packets reach their owner without a worker-to-worker ring. Default true.
   */
  queueSteering: boolean;
  /** Virtual shards (a power of two): the unit of routing and, later, of replication and handover. */
  shards: number;
  mtu4: number;
  mtu6: number;
  lowestIpv6Mtu: number;
  /** Add the routes PREF64 -> TUN and pool4 -> TUN (and remove them at stop). */
  routes: boolean;
  stateDir: string;
  statusSocket: string;
  /** HOST:PORT of the Prometheus /metrics + dashboard endpoint; off when absent. */
  metrics: ListenAddress | undefined;
  /** OTLP/HTTP traces URL (e.g. http://127.0.0.1:4318/v1/traces): control-plane spans; off when absent. */
  tracesUrl: string | undefined;
  /** The tracing UI (Jaeger's) the dashboard links takeovers to (its trace search); off when absent. */
  tracesUi: string | undefined;
  /** How often coalesced session refreshes and batched events are written. */
  flushIntervalMs: number;
  /** Embedded and cluster state: a snapshot is due when the log tail reaches max(this, the last snapshot). */
  snapshotTailBytes: number;
  /** ICMP error token bucket (RFC 4443 sec. 2.4 (f), RFC 1812 sec. 4.3.2.8): errors per second, burst. */
  icmpErrorsPerSecond: number;
  icmpErrorsBurst: number;
  nat: Omit<NatEngineConfigInput, 'pool'>;
  /** Cluster mode (NATS JetStream + KV, Redis; plat-state-config.ts); absent: embedded state in stateDir. */
  state: PlatStateConfig | undefined;
  /**
   * Several nodes as one translator (cluster/plat-cluster-config.ts): membership, the ownership table and
   * the fabric; needs `state`. Absent with `state`: active/standby nodes without a fabric.
   */
  cluster: PlatClusterConfig | undefined;
  /** The ISPs served (sources of no tenant are dropped); undefined: one implicit tenant, any source. */
  tenants: TenantConfig[] | undefined;
  /** Compliance log to Kafka (`compliance: kafka://HOST:PORT/TOPIC`); off when absent. */
  compliance: ComplianceConfig | undefined;
  /** Periodic per-tenant usage records (JSON lines) for billing; off when absent. */
  usage: UsageConfig | undefined;
}

export const platConfigKeys = [
  'device',
  'prefix',
  'allowNonGlobalIpv4',
  'pool4',
  'queues',
  'queueSteering',
  'shards',
  'mtu4',
  'mtu6',
  'lowestIpv6Mtu',
  'routes',
  'stateDir',
  'statusSocket',
  'metrics',
  'tracesUrl',
  'tracesUi',
  'flushIntervalMs',
  'snapshotTailBytes',
  'icmpErrorsPerSecond',
  'icmpErrorsBurst',
  'nat',
  'io',
  'interface',
  'interface4',
  'xdpMode',
  'state',
  'cluster',
  'tenants',
  'compliance',
  'usage',
] as const;

export function parsePlatConfig(raw: RawConfig): PlatConfig {
  refuseUnknownKeys(raw, platConfigKeys);
  const device = readDeviceName(raw, 'device', 'nat64');
  const pool4 = raw.pool4;
  if (!Array.isArray(pool4) || pool4.length === 0 || !pool4.every((p) => typeof p === 'string')) {
    throw configError('pool4', 'is required: a list of IPv4 prefixes or ranges, e.g. [203.0.113.0/24]');
  }
  const queues = readInteger(raw, 'queues', 1, 1, QUEUES_MAX);
  const shards = readInteger(raw, 'shards', VIRTUAL_SHARDS_DEFAULT, 1, VIRTUAL_SHARDS_MAX);
  checkShardCount(shards, 'shards');
  if (shards < queues)
    throw configError(
      'shards',
      `${shards} virtual shards cannot be spread over ${queues} queues; use ${VIRTUAL_SHARDS_DEFAULT}`,
    );
  const nat = raw.nat ?? {};
  if (typeof nat !== 'object' || nat === null || Array.isArray(nat)) {
    throw configError('nat', 'expected a mapping of NAT options (blockSizePorts, timeouts, filtering, ...)');
  }
  if ('pool' in nat) throw configError('nat.pool', 'the pool is set with the top-level key pool4');
  const stateDir = readString(raw, 'stateDir', '/var/lib/xlat64');
  if (!isAbsolute(stateDir)) throw configError('stateDir', `'${stateDir}' must be an absolute path`);
  const io = readString(raw, 'io', 'tun');
  if (io !== 'tun' && io !== 'xdp')
    throw configError('io', `'${io}' is not an I/O kind; use 'tun' (default) or 'xdp'`);
  const xdpMode = readString(raw, 'xdpMode', 'auto');
  if (xdpMode !== 'auto' && xdpMode !== 'native' && xdpMode !== 'generic')
    throw configError('xdpMode', `'${xdpMode}' is not an XDP mode; use 'auto', 'native' or 'generic'`);
  const iface = raw.interface === undefined ? undefined : readDeviceName(raw, 'interface', '');
  if (io === 'xdp' && iface === undefined)
    throw configError(
      'interface',
      "is required with io 'xdp': the Ethernet interface the PLAT's traffic arrives on",
    );
  if (io === 'tun' && iface !== undefined)
    throw configError('interface', "is only used with io 'xdp' (set io: xdp, or remove interface)");
  const iface4 = raw.interface4 === undefined ? undefined : readDeviceName(raw, 'interface4', '');
  if (iface4 !== undefined && (io !== 'xdp' || iface4 === iface))
    throw configError('interface4', "is the IPv4 side's interface with io 'xdp', other than interface");
  // With state the record ids are cluster-wide (`c-<state.pool>/…`, the same whichever node produces a
  // shard), so a per-node name in them cannot apply.
  const rawCompliance = raw.compliance as RawConfig | undefined;
  if (
    raw.state !== undefined &&
    typeof rawCompliance === 'object' &&
    rawCompliance !== null &&
    rawCompliance.node !== undefined
  )
    throw configError(
      'compliance.node',
      "is not used with cluster mode (state): record ids are the cluster pool's (c-<state.pool>/…) on every node; remove compliance.node",
    );
  if (raw.state !== undefined && io === 'xdp')
    throw configError('state', "cluster mode (state) runs with io 'tun' for now; remove io: xdp or state");
  const config: PlatConfig = {
    device,
    io,
    interface: iface,
    interface4: iface4,
    xdpMode,
    prefix: readPrefix(raw, 'prefix', 6, '64:ff9b::/96'),
    allowNonGlobalIpv4: readBoolean(raw, 'allowNonGlobalIpv4', false),
    pool4: pool4 as string[],
    queues,
    queueSteering: readBoolean(raw, 'queueSteering', true),
    shards,
    mtu4: readInteger(raw, 'mtu4', 1500, 68, 65535),
    mtu6: readInteger(raw, 'mtu6', 1500, 1280, 65535),
    lowestIpv6Mtu: readInteger(raw, 'lowestIpv6Mtu', 1280, 1280, 65535),
    routes: readBoolean(raw, 'routes', true),
    stateDir,
    statusSocket: readOptionalString(raw, 'statusSocket') ?? `/run/xlat64/plat-${device}.sock`,
    metrics: readListenAddress(raw, 'metrics'),
    tracesUrl: readHttpUrl(raw, 'tracesUrl', 'http://127.0.0.1:4318/v1/traces'),
    tracesUi: readHttpUrl(raw, 'tracesUi', 'http://127.0.0.1:16686'),
    flushIntervalMs: readInteger(raw, 'flushIntervalMs', 1000, 1, 60_000),
    snapshotTailBytes: readInteger(raw, 'snapshotTailBytes', 8 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    icmpErrorsPerSecond: readInteger(
      raw,
      'icmpErrorsPerSecond',
      ICMP_ERRORS_PER_SECOND_DEFAULT,
      1,
      10_000_000,
    ),
    icmpErrorsBurst: readInteger(raw, 'icmpErrorsBurst', ICMP_ERRORS_BURST_DEFAULT, 1, 10_000_000),
    nat: nat as Omit<NatEngineConfigInput, 'pool'>,
    state: parsePlatStateConfig(raw.state),
    cluster: undefined,
    tenants: undefined,
    compliance: parseComplianceConfig(raw.compliance),
    usage: undefined,
  };
  config.cluster = parsePlatClusterConfig(raw.cluster, config.state?.nodeId);
  if (config.cluster !== undefined && config.state !== undefined) {
    const stateRaw = raw.state as { nodeId?: unknown } | undefined;
    if (
      typeof stateRaw === 'object' &&
      stateRaw?.nodeId !== undefined &&
      stateRaw.nodeId !== config.cluster.nodeId
    )
      throw configError(
        'cluster.nodeId',
        `'${config.cluster.nodeId}' differs from state.nodeId '${String(stateRaw.nodeId)}'; give the node one id (cluster.nodeId)`,
      );
    // One name for the node: the shard ownership records (state layer) and the table (cluster) agree.
    config.state.nodeId = config.cluster.nodeId;
    // A table shard is a worker shard of every node (README "How the PLAT uses this"): the table's shard
    // count is the queue count, which the table store needs as a power of two.
    if ((queues & (queues - 1)) !== 0)
      throw configError(
        'queues',
        `${queues} with cluster: give a power of two (1, 2, 4, 8, 16), the same on every node`,
      );
  }
  // The engine and the translator check their own fields; name them as the operator wrote them.
  let engine: ReturnType<typeof validateNatConfig>;
  try {
    engine = validateNatConfig(natEngineConfig(config));
  } catch (error) {
    if (error instanceof NatConfigError) {
      // The engine calls the pool `pool` (entries `pool[2]`); the operator wrote `pool4`.
      const field = error.field.startsWith('pool')
        ? error.field.replace(/^pool/, 'pool4')
        : `nat.${error.field}`;
      throw configError(field, error.message.slice(error.field.length + 2));
    }
    throw error;
  }
  config.tenants = parseTenants(raw.tenants, engine);
  if (config.state !== undefined) refuseNodeSharesInCluster(config.tenants);
  config.usage = parseUsageConfig(raw.usage, config.tenants);
  try {
    validateTranslatorConfig(platTranslatorConfig(config));
  } catch (error) {
    const field = (error as { field?: string }).field;
    if (field !== undefined) throw configError(field, (error as Error).message.replace(`${field}: `, ''));
    throw error;
  }
  return config;
}

function readHttpUrl(raw: RawConfig, field: 'tracesUrl' | 'tracesUi', example: string): string | undefined {
  const text = readOptionalString(raw, field);
  if (text === undefined) return undefined;
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(text))
    throw configError(field, `'${text}' is not an http(s) URL; e.g. ${example}`);
  return text;
}

export function natEngineConfig(config: PlatConfig): NatEngineConfigInput {
  return { ...config.nat, pool: config.pool4 };
}

export function platTranslatorConfig(config: PlatConfig): TranslatorConfigInput {
  return {
    prefix: config.prefix,
    allowNonGlobalIpv4: config.allowNonGlobalIpv4,
    mtu4: config.mtu4,
    mtu6: config.mtu6,
    lowestIpv6Mtu: Math.min(config.lowestIpv6Mtu, config.mtu6),
    // Time-exceeded and packet-too-big errors towards IPv4 hosts come from the first pool address.
    ipv4Address: firstPoolAddress(config),
  };
}

/** The first address of the first pool entry ('203.0.113.0/24' -> '203.0.113.0', a range -> its start). */
export function firstPoolAddress(config: PlatConfig): string {
  return formatIpv4(parsePool4Entry('pool4[0]', config.pool4[0]).first);
}
