// Configuration of `xlat64 clat`, the customer-side stateless translator of 464XLAT (RFC 6877
// sec. 6.3): the TUN device, the RFC 7335 IPv4 address the host's applications use, the dedicated
// IPv6 address (or /64) translated traffic leaves from, and the PLAT's PREF64 (RFC 6052).
import {
  configError,
  type RawConfig,
  readBoolean,
  readDeviceName,
  readEnum,
  readInteger,
  readIpv4Address,
  readIpv6Address,
  readOptionalString,
  readPrefix,
  refuseUnknownKeys,
} from '../../../libs/dataplane/src/index.js';

export interface ClatConfig {
  device: string;
  /** The IPv4 address applications see (RFC 7335: 192.0.0.0/29; 192.0.0.1 by default). */
  ipv4Address: string;
  /** The IPv6 address translated packets use as source (EAM partner of ipv4Address). */
  ipv6Address: string;
  /** PREF64 of the PLAT. */
  prefix: string;
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
}

export const clatConfigKeys = [
  'device',
  'ipv4Address',
  'ipv6Address',
  'prefix',
  'allowNonGlobalIpv4',
  'ipv6Mtu',
  'defaultRoute',
  'ndpProxyDevice',
  'queues',
  'udpZeroChecksum',
  'statusSocket',
] as const;

export function parseClatConfig(raw: RawConfig): ClatConfig {
  refuseUnknownKeys(raw, clatConfigKeys);
  const ipv4Address = readIpv4Address(raw, 'ipv4Address', '192.0.0.1');
  if (raw.ipv6Address === undefined) {
    throw configError(
      'ipv6Address',
      'is required: the dedicated IPv6 address translated traffic leaves from (RFC 6877 sec. 6.3), e.g. 2001:db8:1:464::1',
    );
  }
  const ipv6Mtu = readInteger(raw, 'ipv6Mtu', 1280, 1280, 65535);
  const device = readDeviceName(raw, 'device', 'clat');
  return {
    device,
    ipv4Address,
    ipv6Address: readIpv6Address(raw, 'ipv6Address'),
    prefix: readPrefix(raw, 'prefix', 6, '64:ff9b::/96'),
    allowNonGlobalIpv4: readBoolean(raw, 'allowNonGlobalIpv4', false),
    ipv6Mtu,
    defaultRoute: readBoolean(raw, 'defaultRoute', true),
    ndpProxyDevice: readOptionalString(raw, 'ndpProxyDevice'),
    queues: readInteger(raw, 'queues', 1, 1, 16),
    udpZeroChecksum: readEnum(raw, 'udpZeroChecksum', 'compute', ['compute', 'drop']),
    statusSocket: readOptionalString(raw, 'statusSocket') ?? `/run/xlat64/clat-${device}.sock`,
  };
}

/** The IPv4 route MTU: the IPv6 path MTU less the 20 bytes an IPv6 header adds over IPv4. */
export function ipv4RouteMtu(config: ClatConfig): number {
  return config.ipv6Mtu - 20;
}
