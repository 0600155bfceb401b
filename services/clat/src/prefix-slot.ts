// The shared slot through which the CLAT's main thread tells its queue workers which PREF64 to
// translate with, and which previous one still drains: a SharedArrayBuffer with a sequence number
// (a seqlock: odd while the single writer writes), so a worker sees either the old pair or the new
// one, never a mix, at the cost of one atomic load per batch.
import assert from 'node:assert/strict';

const SEQUENCE = 0;
const ACTIVE_LENGTH = 1;
const PREVIOUS_LENGTH = 2;
const HEADER_BYTES = 16;
const SLOT_BYTES = HEADER_BYTES + 32;

export interface SlotPrefix {
  readonly address: Uint8Array;
  readonly length: number;
}

export interface SlotContents {
  readonly sequence: number;
  readonly active: SlotPrefix;
  /** The prefix translated before the last change, while its flows drain; null when none. */
  readonly previous: SlotPrefix | null;
}

export class PrefixSlot {
  readonly buffer: SharedArrayBuffer;
  private readonly header: Int32Array;
  private readonly bytes: Uint8Array;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(SLOT_BYTES)) {
    assert.equal(buffer.byteLength, SLOT_BYTES, 'prefix slot has the wrong size');
    this.buffer = buffer;
    this.header = new Int32Array(buffer, 0, 4);
    this.bytes = new Uint8Array(buffer, HEADER_BYTES, 32);
  }

  /** The writer's side (one writer: the main thread). */
  publish(active: SlotPrefix, previous: SlotPrefix | null): number {
    assert.equal(active.address.length, 16, 'active prefix must be 16 bytes');
    assert.ok(Atomics.load(this.header, SEQUENCE) % 2 === 0, 'prefix slot has two writers');
    Atomics.add(this.header, SEQUENCE, 1);
    this.bytes.set(active.address, 0);
    Atomics.store(this.header, ACTIVE_LENGTH, active.length);
    if (previous === null) {
      Atomics.store(this.header, PREVIOUS_LENGTH, 0);
    } else {
      this.bytes.set(previous.address, 16);
      Atomics.store(this.header, PREVIOUS_LENGTH, previous.length);
    }
    return Atomics.add(this.header, SEQUENCE, 1) + 1;
  }

  /** Cheap check for readers: changes whenever the contents change. */
  sequence(): number {
    return Atomics.load(this.header, SEQUENCE);
  }

  /** A consistent copy of the contents, or null if nothing was ever published. */
  read(): SlotContents | null {
    for (;;) {
      const before = Atomics.load(this.header, SEQUENCE);
      if (before === 0) return null;
      if (before % 2 === 1) continue;
      const activeLength = Atomics.load(this.header, ACTIVE_LENGTH);
      const previousLength = Atomics.load(this.header, PREVIOUS_LENGTH);
      const active = this.bytes.slice(0, 16);
      const previous = this.bytes.slice(16, 32);
      if (Atomics.load(this.header, SEQUENCE) !== before) continue;
      return {
        sequence: before,
        active: { address: active, length: activeLength },
        previous: previousLength === 0 ? null : { address: previous, length: previousLength },
      };
    }
  }
}
