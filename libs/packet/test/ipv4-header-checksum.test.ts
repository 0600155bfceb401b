// Proves libs/packet's own IPv4 header checksum against a published known answer (every one of the
// ten header words counts, including the last), and that a strict parse of a plain 20-byte header
// accepts it and refuses it when any single byte, the last included, is changed.
import { describe, expect, it } from 'vitest';
import { Ipv4View, ipv4HeaderChecksum, ParseStatus, parseIpv4 } from '../src/index.js';

/**
 * The widely published worked example (e.g. the "IPv4 header checksum" example in the Wikipedia
 * article "Internet checksum"): 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7, checksum 0xb861.
 */
const KNOWN = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
const KNOWN_CHECKSUM = 0xb861;

function withChecksum(): Buffer {
  const b = Buffer.from(KNOWN);
  b.writeUInt16BE(KNOWN_CHECKSUM, 10);
  return b;
}

describe('ipv4HeaderChecksum (RFC 791 sec. 3.1, RFC 1071)', () => {
  it('computes the known answer 0xb861 for the worked example with the checksum field zero', () => {
    expect(ipv4HeaderChecksum(KNOWN, 0, 20).toString(16)).toBe(KNOWN_CHECKSUM.toString(16));
  });

  it('gives 0 over the header with its checksum in place, also at an offset inside a larger buffer', () => {
    expect(ipv4HeaderChecksum(withChecksum(), 0, 20)).toBe(0);
    const big = Buffer.concat([Buffer.from([0xde, 0xad, 0xbe]), withChecksum(), Buffer.from([0xff, 0xff])]);
    expect(ipv4HeaderChecksum(big, 3, 20)).toBe(0);
  });

  it('changes when any one of the ten 16-bit words changes, the last (bytes 18-19) included', () => {
    for (let word = 0; word < 10; word++) {
      if (word === 5) continue; // the checksum field itself
      const b = Buffer.from(KNOWN);
      b[word * 2 + 1] ^= 0x01;
      expect(ipv4HeaderChecksum(b, 0, 20), `word ${word}`).not.toBe(KNOWN_CHECKSUM);
    }
  });
});

describe('strict parseIpv4 of a plain 20-byte header', () => {
  const view = new Ipv4View();
  it('accepts the checksummed example and reads its fields', () => {
    const b = withChecksum();
    const payload = Buffer.concat([b, Buffer.alloc(0x73 - 20)]);
    expect(parseIpv4(payload, 0, payload.length, view, true)).toBe(ParseStatus.Ok);
    expect({
      hl: view.headerLength,
      total: view.totalLength,
      ttl: view.ttl,
      protocol: view.protocol,
    }).toEqual({
      hl: 20,
      total: 0x73,
      ttl: 0x40,
      protocol: 17,
    });
    expect(view.dontFragment).toBe(true);
  });

  it('refuses with BadChecksum when any single header byte differs, the last one (destination address, byte 19) included', () => {
    for (let i = 0; i < 20; i++) {
      if (i === 0 || i === 2 || i === 3) continue; // version/IHL and total length give other statuses
      const b = Buffer.concat([withChecksum(), Buffer.alloc(0x73 - 20)]);
      b[i] ^= 0x01;
      expect(parseIpv4(b, 0, b.length, view, true), `byte ${i}`).toBe(ParseStatus.BadChecksum);
    }
  });
});
