// Proves validateConfig refuses each bad setting with an XlatConfigError whose field names the
// setting and whose message says what was wrong and the fix, accepts the boundary values, and turns
// each accepted setting into the documented effect (defaults included).
import { describe, expect, it } from 'vitest';
import {
  formatIpv4Address,
  formatIpv6Address,
  type TranslatorConfigInput,
  validateConfig,
  XlatConfigError,
} from '../src/index.js';

const P = '64:ff9b::/96';

function refusal(config: unknown): XlatConfigError {
  try {
    validateConfig(config as TranslatorConfigInput);
  } catch (error) {
    expect(error).toBeInstanceOf(XlatConfigError);
    return error as XlatConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(config)}`);
}

/** Checks code, name, field and the whole message (`field: what; fix`). */
function expectRefusal(config: unknown, field: string, message: string): void {
  const e = refusal(config);
  expect(e.code).toBe('XLAT64_ERR_CONFIG');
  expect(e.name).toBe('XlatConfigError');
  expect(e.field).toBe(field);
  expect(e.message).toBe(`${field}: ${message}`);
}

describe('validateConfig refusals name the field and the fix', () => {
  it('a missing configuration object', () => {
    for (const bad of [null, undefined, 42, 'prefix'])
      expectRefusal(bad, 'config', 'missing; pass an object with at least { prefix }');
  });

  it('the RFC 6052 prefix: not a string, not an address, wrong length, u-octet set', () => {
    expectRefusal(
      { prefix: 64 },
      'prefix',
      "64 is not a prefix; write an RFC 6052 prefix such as '64:ff9b::/96'",
    );
    expectRefusal(
      { prefix: '64:ff9g::/96' },
      'prefix',
      "'64:ff9g::/96' is not an IPv6 address or prefix (write e.g. '64:ff9b::/96')",
    );
    expectRefusal(
      { prefix: '2001:db8::/33' },
      'prefix',
      "'2001:db8::/33' has length 33; RFC 6052 allows 32, 40, 48, 56, 64 or 96 (e.g. '64:ff9b::/96')",
    );
    // RFC 6052 sec. 2.2: bits 64-71 must be zero; in a /96 they are part of the prefix.
    expectRefusal(
      { prefix: '2001:db8:0:0:100::/96' },
      'prefix',
      `'2001:db8:0:0:100::/96' sets bits 64-71, the RFC 6052 "u" octet, which must be zero; clear them`,
    );
  });

  it('booleans', () => {
    for (const field of [
      'allowNonGlobalIpv4',
      'eamHairpinning',
      'ignoreTrafficClass',
      'icmpErrorsForUntranslatable',
    ])
      expectRefusal({ prefix: P, [field]: 'yes' }, field, '"yes" is not a boolean; write true or false');
  });

  it('EAM entries: shape, each prefix, suffix lengths (RFC 7757 sec. 3.2), duplicates', () => {
    const shape = "must be { ipv4: '192.0.2.1/32', ipv6: '2001:db8::1/128' }";
    for (const bad of [null, 'x', { ipv4: 1, ipv6: '2001:db8::1' }, { ipv4: '192.0.2.1', ipv6: 1 }])
      expectRefusal({ prefix: P, eam: [bad] }, 'eam[0]', shape);
    expectRefusal(
      {
        prefix: P,
        eam: [
          { ipv4: '192.0.2.1', ipv6: '2001:db8::1' },
          { ipv4: '192.0.2.256', ipv6: '2001:db8::2' },
        ],
      },
      'eam[1].ipv4',
      "'192.0.2.256' is not an IPv4 address or prefix (write e.g. '192.0.2.0/24')",
    );
    expectRefusal(
      { prefix: P, eam: [{ ipv4: '192.0.2.1', ipv6: '2001:db8::x' }] },
      'eam[0].ipv6',
      "'2001:db8::x' is not an IPv6 address or prefix (write e.g. '64:ff9b::/96')",
    );
    // /22 leaves 10 IPv4 suffix bits; /124 leaves 4 IPv6 bits: too few to hold them.
    expectRefusal(
      { prefix: P, eam: [{ ipv4: '198.51.100.0/22', ipv6: '2001:db8::/124' }] },
      'eam[0]',
      "'198.51.100.0/22' leaves 10 suffix bits but '2001:db8::/124' leaves only 4; " +
        'RFC 7757 sec. 3.2 needs an IPv6 suffix at least as long as the IPv4 one (e.g. /22 with /118 or shorter)',
    );
    expectRefusal(
      {
        prefix: P,
        eam: [
          { ipv4: '192.0.2.0/24', ipv6: '2001:db8:1::/120' },
          { ipv4: '192.0.2.0/24', ipv6: '2001:db8:2::/120' },
        ],
      },
      'eam[1].ipv4',
      "'192.0.2.0/24' is already mapped by eam[0]; remove one of the two entries",
    );
    expectRefusal(
      {
        prefix: P,
        eam: [
          { ipv4: '192.0.2.1', ipv6: '2001:db8::1' },
          { ipv4: '198.51.100.0/24', ipv6: '2001:db8:9::/120' },
          { ipv4: '192.0.2.2', ipv6: '2001:db8:9::/120' },
        ],
      },
      'eam[2].ipv6',
      "'2001:db8:9::/120' is already mapped by eam[1]; remove one of the two entries",
    );
  });

  it('RFC 6791 pools: not a string, not a prefix, too large', () => {
    expectRefusal(
      { prefix: P, pool6791: ['192.0.2.0/30', 7] },
      'pool6791[1]',
      "7 is not an IPv4 prefix; write e.g. '192.0.2.0/30'",
    );
    expectRefusal(
      { prefix: P, pool6791: ['192.0.2.1/30'] },
      'pool6791[0]',
      "'192.0.2.1/30' has bits set after /30; write '192.0.2.0/30'",
    );
    expectRefusal(
      { prefix: P, pool6791: ['198.50.0.0/15'] },
      'pool6791[0]',
      "'198.50.0.0/15' is larger than /16; an RFC 6791 pool needs only a few addresses",
    );
    expectRefusal(
      { prefix: P, pool6791v6: [7] },
      'pool6791v6[0]',
      "7 is not an IPv6 prefix; write e.g. '2001:db8:6791::/120'",
    );
    expectRefusal(
      { prefix: P, pool6791v6: ['2001:db8::1/120'] },
      'pool6791v6[0]',
      "'2001:db8::1/120' has bits set after /120; write '2001:db8::/120'",
    );
    expectRefusal(
      { prefix: P, pool6791v6: ['2001:db8:6791::/120', '2001:db8::/111'] },
      'pool6791v6[1]',
      "'2001:db8::/111' is larger than /112; an RFC 6791 pool needs only a few addresses",
    );
  });

  it('MTUs: not a number, not an integer, below the minimum, above 65535', () => {
    const cases: [string, unknown, number][] = [
      ['mtu6', '1500', 1280],
      ['mtu6', 1300.5, 1280],
      ['mtu6', 1279, 1280],
      ['mtu6', 65536, 1280],
      ['mtu4', 67, 68],
      ['mtu4', 70000, 68],
      ['lowestIpv6Mtu', 1279, 1280],
      ['lowestIpv6Mtu', 1400.25, 1280],
    ];
    for (const [field, value, minimum] of cases)
      expectRefusal(
        { prefix: P, [field]: value },
        field,
        `${JSON.stringify(value)} is not an MTU; write an integer from ${minimum} to 65535 (bytes)`,
      );
  });

  it('policies and own addresses', () => {
    expectRefusal(
      { prefix: P, udpZeroChecksum: 'fix' },
      'udpZeroChecksum',
      `"fix" is not a policy; write 'compute' or 'drop' (RFC 7915 sec. 4.5)`,
    );
    expectRefusal(
      { prefix: P, identification6to4: 'random' },
      'identification6to4',
      `"random" is not a choice; write 'generate' (RFC 7915 sec. 5.1) or 'zero' (RFC 6145)`,
    );
    for (const bad of ['192.0.2', 3221225985])
      expectRefusal(
        { prefix: P, ipv4Address: bad },
        'ipv4Address',
        `${JSON.stringify(bad)} is not an IPv4 address; write e.g. '192.0.2.1'`,
      );
    for (const bad of ['192.0.2.1', 7])
      expectRefusal(
        { prefix: P, ipv6Address: bad },
        'ipv6Address',
        `${JSON.stringify(bad)} is not an IPv6 address; write e.g. '2001:db8::1'`,
      );
  });
});

describe('validateConfig accepted values and their effect', () => {
  it('defaults', () => {
    const c = validateConfig({ prefix: P });
    expect(c.prefix.length).toBe(96);
    expect(c.prefix.isWellKnown).toBe(true);
    expect(c.allowNonGlobalIpv4).toBe(false);
    expect(c.eam.size).toBe(0);
    expect(c.pool6791.size).toBe(0);
    expect(c.pool6791v6.size).toBe(0);
    expect(c.eamHairpinning).toBe(true);
    expect([c.mtu6, c.mtu4, c.lowestIpv6Mtu]).toEqual([1500, 1500, 1280]);
    expect(c.udpZeroChecksumCompute).toBe(true);
    expect(formatIpv4Address(c.ipv4Address >>> 0)).toBe('192.0.0.8'); // RFC 7600 sec. 4
    expect(c.ipv6Address).toBeNull();
    expect(c.generateIdentification).toBe(true);
    expect(c.ignoreTrafficClass).toBe(false);
    expect(c.icmpErrorsForUntranslatable).toBe(false);
    expect(c.warnings).toEqual([]);
  });

  it('every setting changed from its default', () => {
    const c = validateConfig({
      prefix: '2001:db8:100::/40',
      allowNonGlobalIpv4: true,
      eam: [{ ipv4: '192.0.2.0/28', ipv6: '2001:db8:ffff::/124' }],
      pool6791: ['198.51.100.4/30'],
      pool6791v6: ['2001:db8:6791::/112'],
      eamHairpinning: false,
      lowestIpv6Mtu: 1400,
      mtu6: 9000,
      mtu4: 68,
      udpZeroChecksum: 'drop',
      ipv4Address: '203.0.113.1',
      ipv6Address: '2001:db8::1',
      identification6to4: 'zero',
      ignoreTrafficClass: true,
      icmpErrorsForUntranslatable: true,
    });
    expect(c.prefix.length).toBe(40);
    expect(c.prefix.isWellKnown).toBe(false);
    expect(c.allowNonGlobalIpv4).toBe(true);
    expect(c.eam.size).toBe(1);
    expect(c.pool6791.size).toBe(4);
    expect(c.pool6791v6.size).toBe(65536); // /112 is the largest accepted
    expect(c.eamHairpinning).toBe(false);
    expect([c.mtu6, c.mtu4, c.lowestIpv6Mtu]).toEqual([9000, 68, 1400]);
    expect(c.udpZeroChecksumCompute).toBe(false);
    expect(formatIpv4Address(c.ipv4Address >>> 0)).toBe('203.0.113.1');
    expect(formatIpv6Address(c.ipv6Address!)).toBe('2001:db8::1');
    expect(c.generateIdentification).toBe(false);
    expect(c.ignoreTrafficClass).toBe(true);
    expect(c.icmpErrorsForUntranslatable).toBe(true);
    expect(c.warnings).toEqual([]);
  });

  it('boundary values are accepted', () => {
    const high = validateConfig({ prefix: P, mtu6: 65535, mtu4: 65535, lowestIpv6Mtu: 65535 });
    expect([high.mtu6, high.mtu4, high.lowestIpv6Mtu]).toEqual([65535, 65535, 65535]);
    const low = validateConfig({ prefix: P, mtu6: 1280, mtu4: 68 });
    expect([low.mtu6, low.mtu4, low.lowestIpv6Mtu]).toEqual([1280, 68, 1280]);
    // The lowestIpv6Mtu default stays 1280 however large mtu6 is.
    expect(validateConfig({ prefix: P, mtu6: 9000 }).lowestIpv6Mtu).toBe(1280);
    expect(validateConfig({ prefix: P, pool6791: ['198.51.0.0/16'] }).pool6791.size).toBe(65536);
  });

  it('the ICMPv4 error source: ipv4Address, else the first pool6791 address, else 192.0.0.8', () => {
    const pool = ['198.51.100.8/29', '203.0.113.0/30'];
    expect(formatIpv4Address(validateConfig({ prefix: P, pool6791: pool }).ipv4Address >>> 0)).toBe(
      '198.51.100.8',
    );
    expect(
      formatIpv4Address(
        validateConfig({ prefix: P, pool6791: pool, ipv4Address: '192.0.2.1' }).ipv4Address >>> 0,
      ),
    ).toBe('192.0.2.1');
    // Signed 32-bit on the packet path (README "Conventions").
    expect(validateConfig({ prefix: P, ipv4Address: '203.0.113.1' }).ipv4Address).toBe(0xcb007101 | 0);
  });

  it('EAM entries that share an IPv4 address or an IPv6 address with a different length are distinct', () => {
    const c = validateConfig({
      prefix: P,
      eam: [
        { ipv4: '192.0.2.0/24', ipv6: '2001:db8:1::/120' },
        { ipv4: '192.0.2.0/25', ipv6: '2001:db8:1::/121' },
        // Same IPv6 length as eam[0] and the same bytes except one.
        { ipv4: '198.51.100.0/24', ipv6: '2001:db8:2::/120' },
      ],
    });
    expect(c.eam.size).toBe(3);
    // And the translator uses them: 192.0.2.200 lies only in the /24 (the /25 covers .0-.127).
    const out = new Uint8Array(16);
    expect(c.eam.map4to6(0xc00002c8 | 0, out, 0)).toBe(true);
    expect(formatIpv6Address(out)).toBe('2001:db8:1::c8');
    expect(c.eam.map4to6(0xc0000205 | 0, out, 0)).toBe(true);
    expect(formatIpv6Address(out)).toBe('2001:db8:1::5');
  });
});
