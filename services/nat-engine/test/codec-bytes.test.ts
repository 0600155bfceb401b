// The byte helpers of the engine's codecs (codec/bytes.ts), checked against their textbook forms: zigzag
// (Protocol Buffers' signed encoding), unsigned LEB128 varints, big-endian fixed-width fields, IPv6 words
// trimmed after their last non-zero byte, and a reader that flags reads past its end instead of throwing.
import { describe, expect, it } from 'vitest';
import {
  Reader,
  unzigzag,
  writeFloat64,
  writeTrimmedWords,
  writeUint16,
  writeUint32,
  writeVarint,
  zigzag,
} from '../src/codec/bytes.js';

/** The bytes `write` puts at offset 3 of a guarded buffer, and checks it returns the offset after them. */
function written(write: (out: Uint8Array, at: number) => number): number[] {
  const out = new Uint8Array(32).fill(0xee);
  const end = write(out, 3);
  expect(Array.from(out.subarray(0, 3))).toEqual([0xee, 0xee, 0xee]);
  expect(Array.from(out.subarray(end))).toEqual(new Array(32 - end).fill(0xee));
  return Array.from(out.subarray(3, end));
}

function reader(bytes: number[], at = 0, end = bytes.length): Reader {
  return new Reader(Uint8Array.from(bytes), at, end);
}

describe('zigzag', () => {
  it('proves signed values interleave as 0, -1, 1, -2, 2 ... (the Protocol Buffers sint mapping)', () => {
    const table: [number, number][] = [
      [0, 0],
      [-1, 1],
      [1, 2],
      [-2, 3],
      [2, 4],
      [-64, 127],
      [64, 128],
      [2 ** 40, 2 ** 41],
      [-(2 ** 40), 2 ** 41 - 1],
    ];
    for (const [signed, unsigned] of table) {
      expect(zigzag(signed)).toBe(unsigned);
      expect(unzigzag(unsigned)).toBe(signed);
    }
  });
});

describe('writeVarint', () => {
  it('proves values are unsigned LEB128: seven bits a byte, low group first, high bit = more follows', () => {
    expect(written((o, a) => writeVarint(o, a, 0))).toEqual([0x00]);
    expect(written((o, a) => writeVarint(o, a, 1))).toEqual([0x01]);
    expect(written((o, a) => writeVarint(o, a, 127))).toEqual([0x7f]);
    expect(written((o, a) => writeVarint(o, a, 128))).toEqual([0x80, 0x01]);
    // 300 = 0b10_0101100: low group 0101100 (0x2c | 0x80), then 0b10.
    expect(written((o, a) => writeVarint(o, a, 300))).toEqual([0xac, 0x02]);
    expect(written((o, a) => writeVarint(o, a, 16_383))).toEqual([0xff, 0x7f]);
    expect(written((o, a) => writeVarint(o, a, 16_384))).toEqual([0x80, 0x80, 0x01]);
    // 2^32 needs 33 bits: four full groups of zeros, then 2^32 / 2^28 = 16.
    expect(written((o, a) => writeVarint(o, a, 2 ** 32))).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
    // The largest safe integer, 2^53 - 1: seven groups of seven ones, then the last four bits.
    expect(written((o, a) => writeVarint(o, a, Number.MAX_SAFE_INTEGER))).toEqual([
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f,
    ]);
  });

  it('proves a negative, fractional or unsafe value is refused as a programmer error naming the rule', () => {
    const out = new Uint8Array(16);
    for (const bad of [-1, 0.5, 2 ** 53, Number.NaN]) {
      expect(() => writeVarint(out, 0, bad)).toThrow('a varint is a non-negative safe integer');
    }
  });
});

describe('fixed-width fields', () => {
  it('proves 32-bit and 16-bit fields are written big-endian (network byte order)', () => {
    expect(written((o, a) => writeUint32(o, a, 0xcb007101))).toEqual([0xcb, 0x00, 0x71, 0x01]);
    expect(written((o, a) => writeUint32(o, a, 0x01020304))).toEqual([1, 2, 3, 4]);
    expect(written((o, a) => writeUint16(o, a, 0xfe01))).toEqual([0xfe, 0x01]);
    expect(written((o, a) => writeUint16(o, a, 0))).toEqual([0, 0]);
    expect(written((o, a) => writeUint16(o, a, 0xffff))).toEqual([0xff, 0xff]);
  });

  it('proves a port outside 0-65535 is refused naming the rule', () => {
    const out = new Uint8Array(8);
    expect(() => writeUint16(out, 0, 0x10000)).toThrow('a port is 16 bits');
    expect(() => writeUint16(out, 0, -1)).toThrow('a port is 16 bits');
  });

  it('proves a float64 is the IEEE 754 big-endian double at the offset', () => {
    // 1.5 = sign 0, exponent 0x3ff, fraction 0x8000000000000.
    expect(written((o, a) => writeFloat64(o, a, 1.5))).toEqual([0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
    expect(written((o, a) => writeFloat64(o, a, -2))).toEqual([0xc0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('writeTrimmedWords', () => {
  it('proves four words go out as a length byte and the bytes up to the last non-zero one', () => {
    // 2001:db8:100::/40 -> 20 01 0d b8 01, five bytes.
    expect(written((o, a) => writeTrimmedWords(o, a, [0x20010db8, 0x01000000, 0, 0]))).toEqual([
      5, 0x20, 0x01, 0x0d, 0xb8, 0x01,
    ]);
    // Zero bytes inside the kept range stay: 2001:db8:0:100:: -> eight bytes.
    expect(written((o, a) => writeTrimmedWords(o, a, [0x20010db8, 0x00000100, 0, 0]))).toEqual([
      7, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x01,
    ]);
    // The last byte of the last word counts.
    expect(written((o, a) => writeTrimmedWords(o, a, [0, 0, 0, 0x00000001]))).toEqual([
      16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    ]);
    // The first byte of a word: 0x0a000000 in word 2 -> nine bytes.
    expect(written((o, a) => writeTrimmedWords(o, a, [0, 0, 0x0a000000, 0]))).toEqual([
      9, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a,
    ]);
    expect(written((o, a) => writeTrimmedWords(o, a, [0, 0, 0, 0]))).toEqual([0]);
    expect(
      written((o, a) => writeTrimmedWords(o, a, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff])),
    ).toEqual([16, ...new Array(16).fill(0xff)]);
  });
});

describe('Reader', () => {
  it('proves fixed-width reads are big-endian and unsigned, and advance the position', () => {
    const r = reader([0xff, 0xfe, 0x01, 0x80, 0x00, 0x00, 0x01, 0x7f, 0xaa]);
    expect(r.u8()).toBe(0xff);
    expect(r.position).toBe(1);
    expect(r.u16()).toBe(0xfe01);
    expect(r.position).toBe(3);
    expect(r.u32()).toBe(0x80000001); // unsigned, not -2147483647
    expect(r.position).toBe(7);
    expect(r.remaining()).toBe(2);
    expect(r.atEnd()).toBe(false);
    expect(r.u16()).toBe(0x7faa);
    expect(r.atEnd()).toBe(true);
    expect(r.remaining()).toBe(0);
    expect(r.failed).toBe(false);
  });

  it('proves a read reaches exactly to the end without failing, and one byte more fails and returns zero', () => {
    const exact = reader([1, 2, 3, 4]);
    expect(exact.u32()).toBe(0x01020304);
    expect(exact.failed).toBe(false);
    expect(exact.u8()).toBe(0);
    expect(exact.failed).toBe(true);

    const short16 = reader([0xff]);
    expect(short16.u16()).toBe(0);
    expect(short16.failed).toBe(true);
    expect(short16.position).toBe(0);

    const short32 = reader([0xff, 0xff, 0xff]);
    expect(short32.u32()).toBe(0);
    expect(short32.failed).toBe(true);

    const short64 = reader([0x3f, 0xf8, 0, 0, 0, 0, 0]);
    expect(short64.f64()).toBe(0);
    expect(short64.failed).toBe(true);

    const shortBytes = reader([1, 2]);
    expect(shortBytes.bytesOf(3)).toEqual(new Uint8Array(0));
    expect(shortBytes.failed).toBe(true);
  });

  it('proves every read works at position 0 of its window', () => {
    expect(reader([0xfe, 0x01]).u16()).toBe(0xfe01);
    expect(reader([0x80, 0, 0, 1]).u32()).toBe(0x80000001);
    expect(reader([0x3f, 0xf8, 0, 0, 0, 0, 0, 0]).f64()).toBe(1.5);
    expect(Array.from(reader([7, 8, 9]).bytesOf(2))).toEqual([7, 8]);
    expect(reader([0x05]).varint()).toBe(5);
  });

  it('proves a varint cut after a non-zero group returns zero, not the groups read so far', () => {
    const cut = reader([0x81]);
    expect(cut.varint()).toBe(0);
    expect(cut.failed).toBe(true);
  });

  it('proves the reader honours its window: it starts at `at` and stops at `end`, not at the array end', () => {
    const r = reader([0x11, 0x22, 0x33, 0x44, 0x55], 1, 3);
    expect(r.position).toBe(1);
    expect(r.remaining()).toBe(2);
    expect(r.u16()).toBe(0x2233);
    expect(r.atEnd()).toBe(true);
    expect(r.u8()).toBe(0);
    expect(r.failed).toBe(true);
  });

  it('proves varints read back the LEB128 forms, and a ninth byte (longer than any safe integer) fails', () => {
    expect(reader([0x00]).varint()).toBe(0);
    expect(reader([0x7f]).varint()).toBe(127);
    expect(reader([0x80, 0x01]).varint()).toBe(128);
    expect(reader([0xac, 0x02]).varint()).toBe(300);
    expect(reader([0x80, 0x80, 0x80, 0x80, 0x10]).varint()).toBe(2 ** 32);
    const max = reader([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(max.varint()).toBe(Number.MAX_SAFE_INTEGER);
    expect(max.failed).toBe(false);
    expect(max.atEnd()).toBe(true);

    const next = reader([0x80, 0x01, 0x05]);
    expect(next.varint()).toBe(128);
    expect(next.position).toBe(2);
    expect(next.varint()).toBe(5);

    const tooLong = reader([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(tooLong.varint()).toBe(0);
    expect(tooLong.failed).toBe(true);

    const cut = reader([0x80, 0x80]);
    expect(cut.varint()).toBe(0);
    expect(cut.failed).toBe(true);
  });

  it('proves trimmed words read back into four words, zero-filled, and a length over 16 fails', () => {
    expect(reader([5, 0x20, 0x01, 0x0d, 0xb8, 0x01]).trimmedWords()).toEqual([0x20010db8, 0x01000000, 0, 0]);
    expect(reader([0]).trimmedWords()).toEqual([0, 0, 0, 0]);
    const full = reader([16, ...new Array(16).fill(0xff)]);
    expect(full.trimmedWords()).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
    expect(full.failed).toBe(false);
    const last = reader([16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 1]);
    expect(last.trimmedWords()).toEqual([0, 0, 0, 0x80000001]);

    const over = reader([17, ...new Array(17).fill(1)]);
    expect(over.trimmedWords()).toEqual([0, 0, 0, 0]);
    expect(over.failed).toBe(true);

    const cut = reader([4, 0x20, 0x01]);
    cut.trimmedWords();
    expect(cut.failed).toBe(true);
  });

  it('proves f64 and bytesOf read at the position, inside a window that does not start at byte 0', () => {
    const backing = new Uint8Array(20).fill(0x99);
    backing.set([0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 7, 8, 9], 4);
    // A view whose byteOffset is not 0: the double must come from the view's bytes, not the buffer's start.
    const view = backing.subarray(2);
    const r = new Reader(view, 2, 13);
    expect(r.f64()).toBe(1.5);
    expect(r.position).toBe(10);
    expect(Array.from(r.bytesOf(3))).toEqual([7, 8, 9]);
    expect(r.atEnd()).toBe(true);
    expect(r.failed).toBe(false);
  });
});
