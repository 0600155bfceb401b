// Remembers, per fragmented datagram, the outgoing tuple the NAT engine chose for its first
// fragment, so the later fragments (which carry no ports) get the same addresses and ports
// (RFC 6146 sec. 3.4 and 3.5: a NAT64 must translate fragments; RFC 7915 translates each one).
// A fixed, direct-mapped table: a colliding datagram overwrites an older one, and an entry older
// than `lifetimeMs` is never used. Out-of-order datagrams whose first fragment comes last are not
// reassembled; their earlier fragments are dropped and counted by the caller.
import assert from 'node:assert/strict';
import type { FlowKey } from '../../../libs/xlat/src/index.js';

const KEY_WORDS = 10; // family|protocol, id, src (4 words), dst (4 words)
const VALUE_WORDS = 8;

export class FragmentTable {
  private readonly keys: Int32Array;
  private readonly values: Uint32Array;
  private readonly stampMs: Float64Array;
  private readonly mask: number;
  /** Where the last successful `find` left its value: `values[found .. found + 8)`. */
  private found = 0;
  private readonly scratch = new Int32Array(KEY_WORDS);

  constructor(
    entries: number,
    private readonly lifetimeMs: number,
  ) {
    assert.ok(entries > 0 && (entries & (entries - 1)) === 0, 'entries must be a power of two');
    this.keys = new Int32Array(entries * KEY_WORDS);
    this.values = new Uint32Array(entries * VALUE_WORDS);
    this.stampMs = new Float64Array(entries).fill(-Infinity);
    this.mask = entries - 1;
  }

  /** Stores `value` (8 words) for the datagram `flow` belongs to. */
  add(flow: FlowKey, value: Uint32Array, nowMs: number): void {
    const slot = this.slotOf(flow);
    this.keys.set(this.scratch, slot * KEY_WORDS);
    this.values.set(value, slot * VALUE_WORDS);
    this.stampMs[slot] = nowMs;
  }

  /** True when a live entry exists for the datagram; then `copyValue` gives its 8 words. */
  find(flow: FlowKey, nowMs: number): boolean {
    const slot = this.slotOf(flow);
    if (nowMs - this.stampMs[slot] > this.lifetimeMs) return false;
    const keys = this.keys;
    const base = slot * KEY_WORDS;
    for (let i = 0; i < KEY_WORDS; i++) if (keys[base + i] !== this.scratch[i]) return false;
    this.found = slot * VALUE_WORDS;
    return true;
  }

  copyValue(out: Uint32Array): void {
    for (let i = 0; i < VALUE_WORDS; i++) out[i] = this.values[this.found + i];
  }

  /** Fills the scratch key from the flow and returns its slot. */
  private slotOf(flow: FlowKey): number {
    const k = this.scratch;
    k[0] = (flow.family << 8) | flow.protocol;
    k[1] = flow.fragmentId | 0;
    const words = flow.family === 6 ? 4 : 1;
    for (let w = 0; w < 4; w++) {
      k[2 + w] = w < words ? read32(flow.src, w * 4) : 0;
      k[6 + w] = w < words ? read32(flow.dst, w * 4) : 0;
    }
    let h = 0x811c9dc5;
    for (let i = 0; i < KEY_WORDS; i++) h = Math.imul(h ^ k[i], 0x01000193);
    return (h ^ (h >>> 15)) & this.mask;
  }
}

function read32(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}
