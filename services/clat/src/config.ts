// Configuration of `xlat64 clat`, the customer-side stateless translator of 464XLAT (RFC 6877
// sec. 6.3): the TUN device, the RFC 7335 IPv4 address the host's applications use, the dedicated
// IPv6 address (or /64) translated traffic leaves from, the PLAT's PREF64s (RFC 6052) as the last
// resort after RFC 8781 router advertisements and RFC 7050 DNS64 discovery, and the PLAT probe.
import { readFileSync } from 'node:fs';
import {
  checkPrefix,
  configError,
  type RawConfig,
  readBoolean,
  readDeviceName,
  readEnum,
  readInteger,
  readIpv4Address,
  readIpv6Address,
  readListenAddress,
  readOptionalString,
  readString,
  refuseUnknownKeys,
} from '../../../libs/dataplane/src/index.js';
import { ICMP_ERRORS_BURST_DEFAULT, ICMP_ERRORS_PER_SECOND_DEFAULT } from '../../../libs/packet/src/index.js';
import type { ListenAddress } from '../../../libs/telemetry/src/index.js';
import {
  formatIpv6Address,
  isPrefixParseFailure,
  maskIpv6,
  parseIpv6Address,
  parseIpv6Prefix,
  parseRfc6052Prefix,
} from '../../../libs/xlat/src/index.js';
import { type DnsServer, nameserversOf, parseDnsServer } from './rfc7050.js';

export interface ClatConfig {
  device: string;
  /** The IPv4 address applications see (RFC 7335: 192.0.0.0/29; 192.0.0.1 by default). */
  ipv4Address: string;
  /** The IPv6 address translated packets use as source (EAM partner of ipv4Address). */
  ipv6Address: string;
  /**
   * RFC 6877 sec. 6.3's dedicated-prefix mode: a prefix (typically a delegated /64) used by the CLAT
   * alone, routed into its TUN; ipv6Address lies inside it (its first address by default). Undefined:
   * the single-address mode (one /128, on-link through ndpProxyDevice or routed to the host).
   */
  dedicatedPrefix: string | undefined;
  /** The first configured PREF64 (what runs before anything is discovered). */
  prefix: string;
  /** Configured PREF64s in order of preference: used when neither RA nor DNS64 gives one. */
  prefixes: string[];
  /** Learn the PREF64 from router advertisements (RFC 8781). */
  raDiscovery: boolean;
  /**
   * The uplink router advertisements arrive on: solicited at start (RFC 4861 sec. 6.3.7), listened
   * on alone, and watched so a socket is reopened when it comes back. Default ndpProxyDevice;
   * undefined: every interface.
   */
  raDevice: string | undefined;
  /** Learn it by DNS64 (RFC 7050) while no RA carries it. */
  dns64Discovery: boolean;
  /** Resolvers asked for ipv4only.arpa (default: the nameservers of /etc/resolv.conf). */
  dnsServers: DnsServer[];
  /** IPv4 host the PLAT probe pings through each PREF64; undefined: no probe. */
  probeIpv4Address: string | undefined;
  probeIntervalMs: number;
  /** Echo requests lost in a row before a PREF64 counts as down. */
  probeLossThreshold: number;
  /** How long replies from the previous PREF64 are still translated after a change. */
  prefixDrainMs: number;
  allowNonGlobalIpv4: boolean;
  /** IPv6 path MTU towards the PLAT; the IPv4 default route gets ipv6Mtu - 20 (RFC 6877/7915). */
  ipv6Mtu: number;
  /** Install the IPv4 default route through the CLAT (off when the host has native IPv4). */
  defaultRoute: boolean;
  /** Answer neighbour solicitations for ipv6Address on this uplink (the address is on-link there). */
  ndpProxyDevice: string | undefined;
  queues: number;
  udpZeroChecksum: 'compute' | 'drop';
  statusSocket: string;
  /** HOST:PORT of the Prometheus /metrics + dashboard endpoint; off when absent. */
  metrics: ListenAddress | undefined;
  /** ICMP error token bucket (RFC 4443 sec. 2.4 (f), RFC 1812 sec. 4.3.2.8): errors per second, burst. */
  icmpErrorsPerSecond: number;
  icmpErrorsBurst: number;
}

export const clatConfigKeys = [
  'device',
  'ipv4Address',
  'ipv6Address',
  'dedicatedPrefix',
  'prefix',
  'raDiscovery',
  'raDevice',
  'dns64Discovery',
  'dnsServers',
  'probeIpv4Address',
  'probeIntervalMs',
  'probeLossThreshold',
  'prefixDrainMs',
  'allowNonGlobalIpv4',
  'ipv6Mtu',
  'defaultRoute',
  'ndpProxyDevice',
  'queues',
  'udpZeroChecksum',
  'statusSocket',
  'metrics',
  'icmpErrorsPerSecond',
  'icmpErrorsBurst',
] as const;

export function parseClatConfig(raw: RawConfig): ClatConfig {
  refuseUnknownKeys(raw, clatConfigKeys);
  const ipv4Address = readIpv4Address(raw, 'ipv4Address', '192.0.0.1');
  const dedicatedPrefix = readDedicatedPrefix(raw);
  if (raw.ipv6Address === undefined && dedicatedPrefix === undefined) {
    throw configError(
      'ipv6Address',
      'is required (or dedicatedPrefix): the dedicated IPv6 address translated traffic leaves from (RFC 6877 sec. 6.3), e.g. 2001:db8:1:464::1',
    );
  }
  const ipv6Address =
    raw.ipv6Address === undefined ? firstAddress(dedicatedPrefix!) : readIpv6Address(raw, 'ipv6Address');
  if (dedicatedPrefix !== undefined && !inside(ipv6Address, dedicatedPrefix)) {
    throw configError(
      'ipv6Address',
      `${ipv6Address} is not inside dedicatedPrefix ${dedicatedPrefix}; pick an address of that prefix or leave it out`,
    );
  }
  const ipv6Mtu = readInteger(raw, 'ipv6Mtu', 1280, 1280, 65535);
  const device = readDeviceName(raw, 'device', 'clat');
  const prefixes = readPrefixes(raw);
  const dns64Discovery = readBoolean(raw, 'dns64Discovery', true);
  const ndpProxyDevice = readOptionalString(raw, 'ndpProxyDevice');
  const probeIpv4Address =
    raw.probeIpv4Address === undefined ? undefined : readIpv4Address(raw, 'probeIpv4Address');
  return {
    device,
    ipv4Address,
    ipv6Address,
    dedicatedPrefix,
    prefix: prefixes[0],
    prefixes,
    raDiscovery: readBoolean(raw, 'raDiscovery', true),
    raDevice: readRaDevice(raw, device, ndpProxyDevice),
    dns64Discovery,
    dnsServers: readDnsServers(raw, dns64Discovery),
    probeIpv4Address,
    probeIntervalMs: readInteger(raw, 'probeIntervalMs', 1000, 100, 3_600_000),
    probeLossThreshold: readInteger(raw, 'probeLossThreshold', 3, 1, 100),
    prefixDrainMs: readInteger(raw, 'prefixDrainMs', 300_000, 0, 86_400_000),
    allowNonGlobalIpv4: readBoolean(raw, 'allowNonGlobalIpv4', false),
    ipv6Mtu,
    defaultRoute: readBoolean(raw, 'defaultRoute', true),
    ndpProxyDevice,
    queues: readInteger(raw, 'queues', 1, 1, 16),
    udpZeroChecksum: readEnum(raw, 'udpZeroChecksum', 'compute', ['compute', 'drop']),
    statusSocket: readOptionalString(raw, 'statusSocket') ?? `/run/xlat64/clat-${device}.sock`,
    metrics: readListenAddress(raw, 'metrics'),
    icmpErrorsPerSecond: readInteger(
      raw,
      'icmpErrorsPerSecond',
      ICMP_ERRORS_PER_SECOND_DEFAULT,
      1,
      10_000_000,
    ),
    icmpErrorsBurst: readInteger(raw, 'icmpErrorsBurst', ICMP_ERRORS_BURST_DEFAULT, 1, 10_000_000),
  };
}

function readDedicatedPrefix(raw: RawConfig): string | undefined {
  if (raw.dedicatedPrefix === undefined) return undefined;
  const prefix = readString(raw, 'dedicatedPrefix');
  checkPrefix('dedicatedPrefix', prefix, 6);
  const length = Number(prefix.split('/')[1]);
  if (length < 48 || length > 127) {
    throw configError(
      'dedicatedPrefix',
      `'${prefix}' has length ${length}; a CLAT's own prefix is /48 to /127, typically a delegated /64`,
    );
  }
  const parsed = parseIpv6Prefix(prefix);
  if (
    isPrefixParseFailure(parsed) ||
    formatIpv6Address(masked(parsed.address, length)) !== formatIpv6Address(parsed.address)
  ) {
    throw configError('dedicatedPrefix', `'${prefix}' has bits set past its length; write the prefix itself`);
  }
  return prefix;
}

function readRaDevice(raw: RawConfig, tun: string, ndpProxyDevice: string | undefined): string | undefined {
  if (raw.raDevice === undefined) return ndpProxyDevice;
  const name = readDeviceName(raw, 'raDevice', '');
  if (name === tun) {
    throw configError(
      'raDevice',
      `'${name}' is the CLAT's own TUN (device); name the uplink router advertisements arrive on`,
    );
  }
  return name;
}

function firstAddress(prefix: string): string {
  const parsed = parseIpv6Prefix(prefix) as { address: Uint8Array };
  const address = new Uint8Array(parsed.address);
  address[15] |= 1;
  return formatIpv6Address(address);
}

function inside(address: string, prefix: string): boolean {
  const parsed = parseIpv6Prefix(prefix) as { address: Uint8Array; length: number };
  const bytes = parseIpv6Address(address)!;
  return formatIpv6Address(masked(bytes, parsed.length)) === formatIpv6Address(parsed.address);
}

function masked(address: Uint8Array, length: number): Uint8Array {
  const copy = new Uint8Array(address);
  maskIpv6(copy, length);
  return copy;
}

function readPrefixes(raw: RawConfig): string[] {
  const value = raw.prefix ?? '64:ff9b::/96';
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((p) => typeof p === 'string')) {
    throw configError(
      'prefix',
      "must be a PREF64 or a list of them in order of preference, e.g. ['64:ff9b::/96']",
    );
  }
  for (const prefix of list as string[]) {
    checkPrefix('prefix', prefix, 6);
    try {
      parseRfc6052Prefix(prefix);
    } catch (error) {
      throw configError('prefix', (error as Error).message);
    }
  }
  return list as string[];
}

function readDnsServers(raw: RawConfig, needed: boolean): DnsServer[] {
  if (raw.dnsServers === undefined) {
    if (!needed) return [];
    try {
      return nameserversOf(readFileSync('/etc/resolv.conf', 'utf8'));
    } catch {
      return [];
    }
  }
  const list = Array.isArray(raw.dnsServers) ? raw.dnsServers : [raw.dnsServers];
  return list.map((text) => {
    const server = typeof text === 'string' ? parseDnsServer(text) : null;
    if (server === null) {
      throw configError(
        'dnsServers',
        `'${String(text)}' is not a resolver address; write '2001:db8::53', '[2001:db8::53]:5353' or '192.0.2.53:5353'`,
      );
    }
    return server;
  });
}

/** The IPv4 route MTU: the IPv6 path MTU less the 20 bytes an IPv6 header adds over IPv4. */
export function ipv4RouteMtu(config: ClatConfig): number {
  return config.ipv6Mtu - 20;
}
