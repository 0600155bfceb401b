// The pool4 parser's edges (pool4/pool-text.ts): prefix lengths 0-32 written with one or two digits,
// host bits, ranges with spaces and of one address, what is refused with which message and fix, and
// the CIDR cover of ranges that start or end unaligned, cross an octet, or reach the top of the space.
import { describe, expect, it } from 'vitest';
import { NatConfigError, parsePool4, parsePool4Entry, pool4Cidrs } from '../src/index.js';

const FIX = "write a prefix ('203.0.113.0/24'), a range ('198.51.100.10-198.51.100.20') or one address";

function refusal(text: unknown): NatConfigError {
  try {
    parsePool4Entry('pool[3]', text);
  } catch (error) {
    expect(error).toBeInstanceOf(NatConfigError);
    return error as NatConfigError;
  }
  throw new Error(`'${String(text)}' was accepted`);
}

describe('pool4 entries', () => {
  it('proves prefixes of every length read as their whole block', () => {
    expect(parsePool4Entry('p', '203.0.113.7/32')).toEqual({ first: 0xcb007107, last: 0xcb007107 });
    expect(parsePool4Entry('p', '203.0.113.6/31')).toEqual({ first: 0xcb007106, last: 0xcb007107 });
    expect(parsePool4Entry('p', '203.0.112.0/23')).toEqual({ first: 0xcb007000, last: 0xcb0071ff });
    expect(parsePool4Entry('p', '10.0.0.0/8')).toEqual({ first: 0x0a000000, last: 0x0affffff });
    expect(parsePool4Entry('p', '128.0.0.0/1')).toEqual({ first: 0x80000000, last: 0xffffffff });
    expect(parsePool4Entry('p', '0.0.0.0/0')).toEqual({ first: 0, last: 0xffffffff });
    expect(parsePool4Entry('p', '10.0.0.0/08')).toEqual({ first: 0x0a000000, last: 0x0affffff });
  });

  it('proves a prefix length that is not one or two digits up to 32, or a bad base, is refused as not a prefix', () => {
    for (const text of [
      '203.0.113.0/33',
      '203.0.113.0/',
      '203.0.113.0/024',
      '203.0.113.0/2x',
      '203.0.113.0/x2',
      '203.0.113.0/-1',
      '203.0.113.0/ 24',
      '203.0.113/24',
      '203.0.113.0/99',
      '/24',
    ]) {
      const error = refusal(text);
      expect(error.field).toBe('pool[3]');
      expect(error.message).toBe(`pool[3]: '${text}' is not an IPv4 prefix; ${FIX}`);
    }
  });

  it('proves host bits under the prefix length are refused with their own fix', () => {
    for (const text of ['203.0.113.1/24', '203.0.113.128/24', '203.0.113.7/31', '11.0.0.0/7']) {
      expect(refusal(text).message).toBe(
        `pool[3]: '${text}' has host bits set; write the prefix with its host bits zero`,
      );
    }
  });

  it('proves ranges may carry spaces, may be one address, and are refused when malformed or backwards', () => {
    expect(parsePool4Entry('p', '198.51.100.10-198.51.100.20')).toEqual({
      first: 0xc633640a,
      last: 0xc6336414,
    });
    expect(parsePool4Entry('p', '  198.51.100.10  -  198.51.100.20 ')).toEqual({
      first: 0xc633640a,
      last: 0xc6336414,
    });
    expect(parsePool4Entry('p', '198.51.100.10-198.51.100.10')).toEqual({
      first: 0xc633640a,
      last: 0xc633640a,
    });
    for (const text of ['198.51.100.10-', '-198.51.100.10', 'x-198.51.100.10', '198.51.100.10-198.51.100']) {
      expect(refusal(text).message).toBe(`pool[3]: '${text}' is not an IPv4 range; ${FIX}`);
    }
    expect(refusal('198.51.100.11-198.51.100.10').message).toBe(
      "pool[3]: '198.51.100.11-198.51.100.10' ends before it starts; write first-last",
    );
  });

  it('proves 0.0.0.0 is an address and may end a range', () => {
    expect(parsePool4Entry('p', '0.0.0.0')).toEqual({ first: 0, last: 0 });
    expect(parsePool4Entry('p', '0.0.0.0-0.0.0.0')).toEqual({ first: 0, last: 0 });
  });

  it('proves a single address, and a refusal of anything else, including a value that is not a string', () => {
    expect(parsePool4Entry('p', '192.0.2.7')).toEqual({ first: 0xc0000207, last: 0xc0000207 });
    expect(refusal('192.0.2').message).toBe(`pool[3]: '192.0.2' is not an IPv4 address; ${FIX}`);
    expect(refusal('').message).toBe(`pool[3]: '' is not an IPv4 address; ${FIX}`);
    for (const value of [7, null, undefined, ['192.0.2.7']]) {
      expect(refusal(value).message).toBe(`pool[3]: expected a string; ${FIX}`);
    }
    expect(parsePool4(['192.0.2.7', '192.0.2.8/32'])).toEqual([
      { first: 0xc0000207, last: 0xc0000207 },
      { first: 0xc0000208, last: 0xc0000208 },
    ]);
    expect(() => parsePool4(['192.0.2.7', '192.0.2.8', 9])).toThrow('pool[2]: expected a string');
  });
});

describe('pool4 CIDR cover', () => {
  const cover = (text: string) => pool4Cidrs(parsePool4Entry('p', text));

  it('proves a range is covered by the fewest aligned blocks, exactly', () => {
    expect(cover('10.0.0.1-10.0.0.2')).toEqual(['10.0.0.1/32', '10.0.0.2/32']);
    expect(cover('10.0.0.0-10.0.0.1')).toEqual(['10.0.0.0/31']);
    expect(cover('10.0.0.255-10.0.1.0')).toEqual(['10.0.0.255/32', '10.0.1.0/32']);
    expect(cover('10.0.0.0-10.0.1.255')).toEqual(['10.0.0.0/23']);
    expect(cover('10.0.0.0-10.0.2.255')).toEqual(['10.0.0.0/23', '10.0.2.0/24']);
    expect(cover('10.0.0.1-10.0.0.255')).toEqual([
      '10.0.0.1/32',
      '10.0.0.2/31',
      '10.0.0.4/30',
      '10.0.0.8/29',
      '10.0.0.16/28',
      '10.0.0.32/27',
      '10.0.0.64/26',
      '10.0.0.128/25',
    ]);
    expect(cover('255.255.255.254-255.255.255.255')).toEqual(['255.255.255.254/31']);
    expect(cover('255.255.255.255')).toEqual(['255.255.255.255/32']);
    expect(cover('0.0.0.0-255.255.255.255')).toEqual(['0.0.0.0/0']);
    expect(cover('128.0.0.0/1')).toEqual(['128.0.0.0/1']);
    expect(cover('0.0.0.1-255.255.255.255')[0]).toBe('0.0.0.1/32');
    expect(cover('0.0.0.1-255.255.255.255').at(-1)).toBe('128.0.0.0/1');
    expect(cover('0.0.0.1-255.255.255.255').length).toBe(32);
  });
});
