// `xlat64 clat` refuses a bad configuration at start, naming the field and the fix, and fills
// the RFC defaults (192.0.0.1, 64:ff9b::/96, IPv6 MTU 1280 so the IPv4 route gets 1260).
import { describe, expect, it } from 'vitest';
import { ipv4RouteMtu, parseClatConfig } from '../src/config.js';

describe('CLAT configuration', () => {
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

  it.each([
    [{}, /^ipv6Address: is required/],
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
  ])('refuses %j naming the field', (raw, message) => {
    expect(() => parseClatConfig(raw)).toThrow(message);
    try {
      parseClatConfig(raw);
    } catch (error) {
      expect((error as { code: string }).code).toBe('XLAT64_ERR_CONFIG');
    }
  });
});
