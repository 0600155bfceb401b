// Byte-level helpers of the engine's binary codecs (events, snapshots): big-endian fixed-width fields,
// unsigned LEB128 and zigzag varints over safe integers (arithmetic, never 32-bit shifts), trimmed IPv6
// prefixes, and a bounds-checked reader that sets `failed` instead of throwing on damaged input.
import { assert } from '../errors.js';
import type { Ipv6Words } from '../events.js';

export function zigzag(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

export function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

/** Unsigned LEB128 of a safe integer (arithmetic, not 32-bit shifts). */
export function writeVarint(out: Uint8Array, at: number, value: number): number {
  assert(Number.isSafeInteger(value) && value >= 0, 'a varint is a non-negative safe integer');
  let v = value;
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

export function writeUint32(out: Uint8Array, at: number, value: number): number {
  out[at] = value >>> 24;
  out[at + 1] = value >>> 16;
  out[at + 2] = value >>> 8;
  out[at + 3] = value;
  return at + 4;
}

export function writeUint16(out: Uint8Array, at: number, value: number): number {
  assert(value >= 0 && value <= 0xffff, 'a port is 16 bits');
  out[at] = value >>> 8;
  out[at + 1] = value;
  return at + 2;
}

/** Four words as a length byte and the bytes up to the last non-zero one (a masked prefix is short). */
export function writeTrimmedWords(out: Uint8Array, at: number, words: ArrayLike<number>): number {
  let n = 16;
  while (n > 0 && ((words[(n - 1) >> 2] >>> (8 * (3 - ((n - 1) & 3)))) & 255) === 0) n--;
  out[at++] = n;
  for (let i = 0; i < n; i++) out[at++] = (words[i >> 2] >>> (8 * (3 - (i & 3)))) & 255;
  return at;
}

/** Bounds-checked reads: past the end, `failed` is set and zeros are returned. */
export class Reader {
  failed = false;
  constructor(
    private readonly bytes: Uint8Array,
    private at: number,
    private readonly end: number,
  ) {}

  private take(n: number): number {
    if (this.at + n > this.end) {
      this.failed = true;
      return -1;
    }
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(): number {
    const at = this.take(1);
    return at < 0 ? 0 : this.bytes[at];
  }

  u16(): number {
    const at = this.take(2);
    return at < 0 ? 0 : (this.bytes[at] << 8) | this.bytes[at + 1];
  }

  u32(): number {
    const at = this.take(4);
    if (at < 0) return 0;
    const b = this.bytes;
    return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const at = this.take(1);
      if (at < 0) return 0;
      const byte = this.bytes[at];
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 0x80;
    }
    this.failed = true; // longer than any safe integer needs
    return 0;
  }

  trimmedWords(): Ipv6Words {
    const n = this.u8();
    if (n > 16) {
      this.failed = true;
      return [0, 0, 0, 0];
    }
    const words = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) words[i >> 2] = (words[i >> 2] | (this.u8() << (8 * (3 - (i & 3))))) >>> 0;
    return [words[0], words[1], words[2], words[3]];
  }

  f64(): number {
    const at = this.take(8);
    if (at < 0) return 0;
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + at, 8).getFloat64(0);
  }

  bytesOf(n: number): Uint8Array {
    const at = this.take(n);
    return at < 0 ? new Uint8Array(0) : this.bytes.subarray(at, at + n);
  }

  get position(): number {
    return this.at;
  }

  atEnd(): boolean {
    return this.at === this.end;
  }

  remaining(): number {
    return this.end - this.at;
  }
}

export function writeFloat64(out: Uint8Array, at: number, value: number): number {
  new DataView(out.buffer, out.byteOffset + at, 8).setFloat64(0, value);
  return at + 8;
}
