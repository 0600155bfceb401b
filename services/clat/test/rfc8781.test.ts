// RFC 8781 PREF64 options: router advertisements built by scapy (independently of our encoder) are
// read as the prefix and lifetime scapy put in; what our encoder writes scapy reads back the same;
// malformed options and RAs are ignored with the named reason.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseIpv6Address } from '../../../libs/xlat/src/index.js';
import { runScapy } from '../../../test/support/scapy.js';
import {
  decodePref64Option,
  encodePref64Option,
  parseRouterAdvertisement,
  pref64LengthByCode,
} from '../src/rfc8781.js';

const VECTORS = fileURLToPath(new URL('./helpers/pref64_vectors.py', import.meta.url));
const hex = (text: string) => Uint8Array.from(Buffer.from(text, 'hex'));

describe('RFC 8781 PREF64 option', () => {
  it('reads every prefix length code and lifetime from router advertisements scapy built', () => {
    const cases = JSON.parse(runScapy(VECTORS, ['build'])) as {
      name: string;
      ra: string;
      expect: { prefix: string; lifetimeSeconds: number }[];
    }[];
    expect(cases.length).toBe(25);
    for (const c of cases) {
      const parsed = parseRouterAdvertisement(hex(c.ra));
      expect(parsed, c.name).not.toBeNull();
      expect(parsed!.problems, c.name).toEqual([]);
      expect(
        parsed!.pref64.map((o) => ({ prefix: o.prefix, lifetimeSeconds: o.lifetimeSeconds })),
        c.name,
      ).toEqual(c.expect);
      expect(parsed!.routerLifetimeSeconds, c.name).toBe(1800);
    }
  });

  it('writes options scapy reads back with the same prefix, length code and scaled lifetime', () => {
    const cases = [
      { prefix: '64:ff9b::', length: 96, lifetimeSeconds: 1800, scaled: 225 },
      { prefix: '2001:db8:64:6400::', length: 64, lifetimeSeconds: 1, scaled: 1 },
      { prefix: '2001:db8:6400::', length: 56, lifetimeSeconds: 9, scaled: 2 },
      { prefix: '2001:db8:6400::', length: 48, lifetimeSeconds: 0, scaled: 0 },
      { prefix: '2001:db8::', length: 40, lifetimeSeconds: 65528, scaled: 8191 },
      { prefix: '2001:db8::', length: 32, lifetimeSeconds: 1_000_000, scaled: 8191 },
    ];
    for (const c of cases) {
      const encoded = encodePref64Option({
        address: parseIpv6Address(c.prefix)!,
        length: c.length,
        lifetimeSeconds: c.lifetimeSeconds,
      });
      const theirs = JSON.parse(runScapy(VECTORS, ['decode', Buffer.from(encoded).toString('hex')]));
      expect(theirs).toEqual({
        type: 38,
        len: 2,
        scaledlifetime: c.scaled,
        plc: pref64LengthByCode.indexOf(c.length as 96),
        prefix: c.prefix,
      });
      // Our decoder inverts our encoder, also at an offset inside a larger buffer.
      const big = new Uint8Array(40).fill(0xee);
      encodePref64Option(
        { address: parseIpv6Address(c.prefix)!, length: c.length, lifetimeSeconds: c.lifetimeSeconds },
        big,
        7,
      );
      expect(big[6]).toBe(0xee);
      expect(big[23]).toBe(0xee);
      const decoded = decodePref64Option(big, 7);
      expect(decoded).toMatchObject({
        option: { prefix: `${c.prefix}/${c.length}`, lifetimeSeconds: c.scaled * 8 },
      });
    }
  });

  it('clears bits past the prefix length that a sender left set', () => {
    const option = encodePref64Option({
      address: parseIpv6Address('64:ff9b::')!,
      length: 96,
      lifetimeSeconds: 8,
    });
    option[3] = (option[3] & ~7) | 5; // now /32: bytes 4-11 of the prefix must be ignored
    option[4 + 5] = 0xab;
    expect(decodePref64Option(option, 0)).toMatchObject({ option: { prefix: '64:ff9b::/32', length: 32 } });
  });

  it('ignores invalid options with the reason and keeps the valid ones in the same RA', () => {
    const ra = new Uint8Array(16 + 16 * 3);
    ra[0] = 134;
    ra[6] = 0x07;
    ra[7] = 0x08;
    encodePref64Option({ address: parseIpv6Address('64:ff9b::')!, length: 96, lifetimeSeconds: 600 }, ra, 16);
    encodePref64Option(
      { address: parseIpv6Address('2001:db8:64::')!, length: 96, lifetimeSeconds: 600 },
      ra,
      32,
    );
    ra[32 + 3] = (ra[32 + 3] & ~7) | 6; // PLC 6 is not defined
    // A PREF64 option of length 1 (8 bytes), then one of 1 unit padding to keep the walk aligned.
    ra[48] = 38;
    ra[49] = 1;
    ra[56] = 1;
    ra[57] = 1;
    const parsed = parseRouterAdvertisement(ra)!;
    expect(parsed.discarded).toBe(false);
    expect(parsed.pref64.map((o) => o.prefix)).toEqual(['64:ff9b::/96']);
    expect(parsed.problems.map((p) => p.reason)).toEqual(['pref64plc', 'pref64length']);
    expect(parsed.problems[0].why).toMatch(/code 6/);
  });

  it('discards the whole RA on a zero-length or truncated option, a short header or a non-zero code', () => {
    const good = encodePref64Option({
      address: parseIpv6Address('64:ff9b::')!,
      length: 96,
      lifetimeSeconds: 600,
    });
    const withOption = (option: Uint8Array) => {
      const ra = new Uint8Array(16 + option.length);
      ra[0] = 134;
      ra.set(option, 16);
      return ra;
    };
    const zero = withOption(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, ...good]));
    expect(parseRouterAdvertisement(zero)).toMatchObject({
      discarded: true,
      pref64: [],
      problems: [{ reason: 'optionzero' }],
    });
    const truncated = withOption(good.subarray(0, 12));
    expect(parseRouterAdvertisement(truncated)!.problems[0].reason).toBe('optiontruncated');
    expect(parseRouterAdvertisement(new Uint8Array([134, 0, 0, 0]))!.problems[0].reason).toBe('short');
    const coded = withOption(good);
    coded[1] = 1;
    expect(parseRouterAdvertisement(coded)!.problems[0].reason).toBe('code');
    expect(parseRouterAdvertisement(new Uint8Array([135, 0, 0, 0]))).toBeNull();
  });
});
