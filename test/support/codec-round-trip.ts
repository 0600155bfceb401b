// One round-trip check for every binary codec (CONVENTIONS.md 16, after dns-packet's testEncoder): the
// value is encoded on its own and again into a larger buffer at an odd offset between guard bytes; both
// encodings must be the same bytes, nothing outside the range may be written, and decoding either gives
// the value back.
import { expect } from 'vitest';

export interface Codec<T> {
  /** Writes `value` into `out` at `offset` (out has `bytesMax(value)` bytes from there); returns the end. */
  encode(value: T, out: Uint8Array, offset: number): number;
  /** Reads bytes[offset, offset + length) back. */
  decode(bytes: Uint8Array, offset: number, length: number): T;
  bytesMax(value: T): number;
}

const GUARD = 0xa5;

/** Checks the round trip and returns the encoding (for size figures and refusal tests). */
export function expectRoundTrip<T>(codec: Codec<T>, value: T, expected: unknown = value): Uint8Array {
  const max = codec.bytesMax(value);
  const alone = new Uint8Array(max);
  const end = codec.encode(value, alone, 0);
  expect(end).toBeGreaterThan(0);
  expect(end).toBeLessThanOrEqual(max);
  const bytes = alone.slice(0, end);

  const offset = 13;
  const larger = new Uint8Array(offset + max + 17).fill(GUARD);
  const endAt = codec.encode(value, larger, offset);
  expect(endAt - offset).toBe(end);
  expect(larger.subarray(offset, endAt)).toEqual(bytes);
  expect(larger.subarray(0, offset).every((b) => b === GUARD)).toBe(true);
  expect(larger.subarray(endAt).every((b) => b === GUARD)).toBe(true);

  expect(codec.decode(bytes, 0, bytes.length)).toEqual(expected);
  expect(codec.decode(larger, offset, end)).toEqual(expected);
  return bytes;
}
