// Anti-replay sliding window over 64-bit sequence numbers (the bitmap scheme of RFC 6479, as IPsec ESP
// (RFC 4303 sec. 3.4.3) and WireGuard use it): the highest sequence accepted and a bitmap of the
// WINDOW before it. A sequence seen before, or older than the window, is refused. Allocation-free.
import assert from 'node:assert/strict';

/** Default window: 4096 sequence numbers (reordering the fabric tolerates between two nodes). */
export const REPLAY_WINDOW_DEFAULT = 4096;

export const REPLAY_OK = 0;
/** Already received. */
export const REPLAY_SEEN = 1;
/** Older than the window: cannot be told apart from a replay. */
export const REPLAY_TOO_OLD = 2;

export class ReplayWindow {
  private readonly bits: Uint32Array;
  private readonly size: number;
  /** Highest sequence accepted so far (-1: none). */
  private top = -1;

  constructor(size = REPLAY_WINDOW_DEFAULT) {
    assert.ok(
      Number.isInteger(size) && size >= 64 && (size & (size - 1)) === 0,
      'the window is a power of two ≥ 64',
    );
    this.size = size;
    this.bits = new Uint32Array(size >>> 5);
  }

  /** Accepts `sequence` (≥ 0, exact in a JS number) once: REPLAY_OK and remembered, or why not. */
  accept(sequence: number): number {
    if (sequence > this.top) {
      const advance = sequence - this.top;
      if (advance >= this.size) this.bits.fill(0);
      else for (let s = this.top + 1; s < sequence; s++) this.clear(s);
      this.top = sequence;
      this.mark(sequence);
      return REPLAY_OK;
    }
    if (this.top - sequence >= this.size) return REPLAY_TOO_OLD;
    const index = sequence % this.size;
    const word = index >>> 5;
    const bit = 1 << (index & 31);
    if ((this.bits[word] & bit) !== 0) return REPLAY_SEEN;
    this.bits[word] |= bit;
    return REPLAY_OK;
  }

  private mark(sequence: number): void {
    const index = sequence % this.size;
    this.bits[index >>> 5] |= 1 << (index & 31);
  }

  private clear(sequence: number): void {
    const index = sequence % this.size;
    this.bits[index >>> 5] &= ~(1 << (index & 31));
  }
}
