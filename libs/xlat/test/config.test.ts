// Proves createTranslator refuses bad configuration with an XlatConfigError that names the field,
// says what is wrong and how to fix it, and accepts every documented option.
import { describe, expect, it } from 'vitest';
import { createTranslator, type TranslatorConfigInput, XlatConfigError } from '../src/index.js';

function refusal(config: unknown): XlatConfigError {
  try {
    createTranslator(config as TranslatorConfigInput);
  } catch (error) {
    expect(error).toBeInstanceOf(XlatConfigError);
    return error as XlatConfigError;
  }
  throw new Error('accepted');
}

describe('createTranslator configuration', () => {
  it('names the prefix problem and the allowed lengths', () => {
    const e = refusal({ prefix: '64:ff9b::/95' });
    expect(e.code).toBe('XLAT64_ERR_CONFIG');
    expect(e.field).toBe('prefix');
    expect(e.message).toBe(
      "prefix: '64:ff9b::/95' has length 95; RFC 6052 allows 32, 40, 48, 56, 64 or 96 (e.g. '64:ff9b::/96')",
    );
    expect(refusal({}).field).toBe('prefix');
    expect(refusal({ prefix: 'nonsense' }).message).toMatch(/not an IPv6 address or prefix/);
  });

  it('checks EAM entries: syntax, an IPv6 suffix at least as long as the IPv4 one (RFC 7757 sec. 3.2), duplicates', () => {
    expect(
      refusal({ prefix: '64:ff9b::/96', eam: [{ ipv4: '192.0.2.0/24', ipv6: '2001:db8::/124' }] }).message,
    ).toMatch(
      /eam\[0\]: .* leaves only 4; .* at least as long as the IPv4 one \(e\.g\. \/24 with \/120 or shorter\)/,
    );
    // A shorter IPv4 suffix is accepted (the IPv4 suffix fills the leading bits of the IPv6 suffix).
    expect(() =>
      createTranslator({
        prefix: '64:ff9b::/96',
        eam: [{ ipv4: '198.51.100.0/24', ipv6: '2001:db8:1c6:3364::/72' }],
      }),
    ).not.toThrow();
    expect(
      refusal({ prefix: '64:ff9b::/96', eam: [{ ipv4: '192.0.2.300', ipv6: '2001:db8::1' }] }).field,
    ).toBe('eam[0].ipv4');
    const dup = refusal({
      prefix: '64:ff9b::/96',
      eam: [
        { ipv4: '192.0.2.1', ipv6: '2001:db8::1' },
        { ipv4: '192.0.2.1', ipv6: '2001:db8::2' },
      ],
    });
    expect(dup.field).toBe('eam[1].ipv4');
  });

  it('checks MTUs, pools, policy and own addresses', () => {
    expect(refusal({ prefix: '64:ff9b::/96', mtu6: 1000 }).field).toBe('mtu6');
    expect(refusal({ prefix: '64:ff9b::/96', mtu4: 1.5 }).field).toBe('mtu4');
    // lowestIpv6Mtu above mtu6 is accepted with a warning naming the field; mtu6 is used (vector
    // 46-nodf-lowest-mtu-above-mtu6 shows the fragments).
    const clamped = createTranslator({ prefix: '64:ff9b::/96', lowestIpv6Mtu: 1500, mtu6: 1400 });
    expect(clamped.warnings).toEqual([
      'lowestIpv6Mtu: 1500 exceeds mtu6 1400; using 1400 (set lowestIpv6Mtu to at most mtu6 to silence this)',
    ]);
    expect(createTranslator({ prefix: '64:ff9b::/96', lowestIpv6Mtu: 1400, mtu6: 1400 }).warnings).toEqual(
      [],
    );
    expect(refusal({ prefix: '64:ff9b::/96', pool6791: ['192.0.2.1/24'] }).message).toMatch(
      /write '192.0.2.0\/24'/,
    );
    expect(refusal({ prefix: '64:ff9b::/96', udpZeroChecksum: 'fix' }).field).toBe('udpZeroChecksum');
    expect(refusal({ prefix: '64:ff9b::/96', pool6791v6: ['2001:db8::/64'] }).message).toMatch(
      /pool6791v6\[0\]: .* larger than \/112/,
    );
    expect(refusal({ prefix: '64:ff9b::/96', eamHairpinning: 'yes' }).field).toBe('eamHairpinning');
    expect(refusal({ prefix: '64:ff9b::/96', ipv4Address: 'x' }).field).toBe('ipv4Address');
    expect(refusal({ prefix: '64:ff9b::/96', ipv6Address: '1.2.3.4' }).field).toBe('ipv6Address');
    expect(refusal({ prefix: '64:ff9b::/96', allowNonGlobalIpv4: 'yes' }).field).toBe('allowNonGlobalIpv4');
  });

  it('accepts a complete configuration', () => {
    const t = createTranslator({
      prefix: '2001:db8:100::/40',
      allowNonGlobalIpv4: true,
      eam: [{ ipv4: '192.0.2.0/28', ipv6: '2001:db8:ffff::/124' }],
      pool6791: ['198.51.100.0/30'],
      lowestIpv6Mtu: 1400,
      mtu6: 9000,
      mtu4: 1500,
      udpZeroChecksum: 'drop',
      ipv4Address: '198.51.100.1',
      ipv6Address: '2001:db8::1',
    });
    expect(t.result.count).toBe(0);
  });
});
