// `xlat64 clat` refuses a bad configuration at start, naming the field and the fix, and fills
// the RFC defaults (192.0.0.1, 64:ff9b::/96, IPv6 MTU 1280 so the IPv4 route gets 1260).
import { describe, expect, it } from 'vitest';
import { ipv4RouteMtu, parseClatConfig } from '../src/config.js';

describe('CLAT configuration', () => {
  it('reads PREF64 discovery and probe settings: a list of configured prefixes, resolvers with ports', () => {
    const config = parseClatConfig({
      ipv6Address: '2001:db8:1:464::1',
      prefix: ['2001:db8:64::/96', '64:ff9b::/96'],
      dnsServers: ['[2001:db8::53]:5353', '192.0.2.53'],
      probeIpv4Address: '198.51.100.2',
      raDiscovery: false,
    });
    expect(config).toMatchObject({
      prefix: '2001:db8:64::/96',
      prefixes: ['2001:db8:64::/96', '64:ff9b::/96'],
      raDiscovery: false,
      dns64Discovery: true,
      dnsServers: [
        { address: '2001:db8::53', port: 5353 },
        { address: '192.0.2.53', port: 53 },
      ],
      probeIpv4Address: '198.51.100.2',
      probeIntervalMs: 1000,
      probeLossThreshold: 3,
      prefixDrainMs: 300_000,
    });
    expect(parseClatConfig({ ipv6Address: '2001:db8::1' })).toMatchObject({
      prefixes: ['64:ff9b::/96'],
      probeIpv4Address: undefined,
    });
  });

  it('fills the defaults around the one required field', () => {
    const config = parseClatConfig({ ipv6Address: '2001:db8:1:464::1' });
    expect(config).toMatchObject({
      device: 'clat',
      ipv4Address: '192.0.0.1',
      prefix: '64:ff9b::/96',
      ipv6Mtu: 1280,
      defaultRoute: true,
      queues: 1,
      statusSocket: '/run/xlat64/clat-clat.sock',
    });
    expect(ipv4RouteMtu(config)).toBe(1260);
  });

  it('listens for RAs on raDevice, by default the NDP proxy uplink, else on every interface', () => {
    expect(parseClatConfig({ ipv6Address: '2001:db8::1' }).raDevice).toBeUndefined();
    expect(parseClatConfig({ ipv6Address: '2001:db8::1', ndpProxyDevice: 'eth0' }).raDevice).toBe('eth0');
    expect(
      parseClatConfig({ ipv6Address: '2001:db8::1', ndpProxyDevice: 'eth0', raDevice: 'wan0' }).raDevice,
    ).toBe('wan0');
  });

  it.each([
    [{}, /^ipv6Address: is required/],
    [
      { ipv6Address: '2001:db8:2::1', dedicatedPrefix: '2001:db8:1:464::/64' },
      /^ipv6Address: 2001:db8:2::1 is not inside dedicatedPrefix/,
    ],
    [{ dedicatedPrefix: '2001:db8:1:464::1/64' }, /^dedicatedPrefix: .* has bits set past its length/],
    [{ dedicatedPrefix: '2001:db8::/32' }, /^dedicatedPrefix: .* has length 32/],
    [
      { ipv6Address: '2001:db8::1', ipv6Mtu: 1000 },
      /^ipv6Mtu: expected a whole number from 1280 to 65535, got 1000/,
    ],
    [{ ipv6Address: '2001:db8::1', prefix: '64:ff9b::' }, /^prefix: '64:ff9b::' is not an IPv6 prefix/],
    [{ ipv6Address: '192.0.0.2' }, /^ipv6Address: '192\.0\.0\.2' is not an IPv6 address/],
    [
      { ipv6Address: '2001:db8::1', device: 'a-very-long-device-name' },
      /^device: .* is not a valid interface name/,
    ],
    [{ ipv6Address: '2001:db8::1', mtu: 1400 }, /^mtu: unknown option; valid options: device, ipv4Address/],
    [{ ipv6Address: '2001:db8::1', defaultRoute: 'yes' }, /^defaultRoute: expected true or false/],
    [{ ipv6Address: '2001:db8::1', raDevice: 'clat' }, /^raDevice: 'clat' is the CLAT's own TUN/],
    [{ ipv6Address: '2001:db8::1', raDevice: 'eth 0' }, /^raDevice: .* is not a valid interface name/],
    [
      { ipv6Address: '2001:db8::1', prefix: '2001:db8::/80' },
      /^prefix: .*RFC 6052 allows 32, 40, 48, 56, 64 or 96/,
    ],
    [{ ipv6Address: '2001:db8::1', prefix: [] }, /^prefix: must be a PREF64 or a list of them/],
    [
      { ipv6Address: '2001:db8::1', dnsServers: ['resolver.example'] },
      /^dnsServers: 'resolver.example' is not a resolver address/,
    ],
    [{ ipv6Address: '2001:db8::1', probeIpv4Address: '2001:db8::1' }, /^probeIpv4Address: /],
    [
      { ipv6Address: '2001:db8::1', probeIntervalMs: 10 },
      /^probeIntervalMs: expected a whole number from 100/,
    ],
  ])('refuses %j naming the field', (raw, message) => {
    expect(() => parseClatConfig(raw)).toThrow(message);
    try {
      parseClatConfig(raw);
    } catch (error) {
      expect((error as { code: string }).code).toBe('XLAT64_ERR_CONFIG');
    }
  });
});
