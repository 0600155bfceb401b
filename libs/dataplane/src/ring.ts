// Single-producer/single-consumer packet ring over a SharedArrayBuffer: the hand-off of packets between
// the worker threads of one node (a worker that read a packet for a shard it does not own passes it to
// the owner). Bounded (a named maximum; a packet that does not fit is dropped and counted), batched (one
// Atomics store publishes a whole batch; the consumer drains in batches), no allocation per packet.

import assert from 'node:assert/strict';
import { DataplaneError } from './errors.js';

/** Largest ring: byte positions are 32-bit counters compared by difference, so capacity stays below 2^30. */
export const RING_BYTES_MAX = 1 << 28;
/** Smallest ring. */
export const RING_BYTES_MIN = 1 << 12;
/** Largest packet a ring carries (a 64 KB TCP super-packet plus its virtio-net header, rounded up). */
export const RING_PACKET_BYTES_MAX = (1 << 17) - 1;
/** Most records one `poll` returns (the consumer's batch arrays are sized to it). */
export const RING_POLL_PACKETS_MAX = 1 << 12;

// Control words, each on its own 64-byte cache line so the producer's and the consumer's stores do not
// share a line (false sharing would cost a coherence miss per batch on each side).
const HEAD = 0; // producer: byte position after the last published record
const TAIL = 16; // consumer: byte position of the first record not yet released
const WAITING = 32; // consumer: 1 while it sleeps in Atomics.wait on HEAD
const PUBLISHED = 48; // producer: packets published (wraps at 2^32)
const DROPPED = 49; // producer: packets refused because the ring was full (wraps at 2^32)
const OVERSIZE = 50; // producer: packets refused because they exceed RING_PACKET_BYTES_MAX
const CONSUMED = 64; // consumer: packets released (wraps at 2^32)
const CONTROL_WORDS = 80;
const CONTROL_BYTES = CONTROL_WORDS * 4;

/**
 * Packets up to this size are copied by a word loop (no allocation); longer ones by `set` on a range
 * view of the source (one small object per packet). Measured on the 2-vCPU VM: the word loop costs ~2-4
 * ns per word, `set` a flat ~100-150 ns plus ~0.3 ns per byte, so they meet around 200-300 bytes; a
 * 1500-byte packet took ~1,650 ns by words against ~400 ns by `set`. Node 20's Buffer#copy builds the
 * same view internally (as many scavenges as `set` in a 2M-copy run), so it is no way around it.
 */
export const RING_WORD_COPY_BYTES_MAX = 256;

/** Record header: word 0 = payload length | pad << 24 (pad = 0-3 bytes before the payload), word 1 = tag. */
const RECORD_HEADER_BYTES = 8;
/** Word 0 of a record that says "the rest of the ring up to its end is unused, continue at 0". */
const SKIP = -1;

/** The shared part of a ring: pass it to the other thread (postMessage / workerData) and attach there. */
export interface RingMemory {
  readonly buffer: SharedArrayBuffer;
  readonly capacityBytes: number;
}

/** Allocates the shared memory of one ring of `capacityBytes` (a power of two in [RING_BYTES_MIN, RING_BYTES_MAX]). */
export function createRingMemory(capacityBytes: number): RingMemory {
  if (
    !Number.isInteger(capacityBytes) ||
    capacityBytes < RING_BYTES_MIN ||
    capacityBytes > RING_BYTES_MAX ||
    (capacityBytes & (capacityBytes - 1)) !== 0
  ) {
    throw new DataplaneError(
      'XLAT64_ERR_RING_OPTIONS',
      `ring capacity ${capacityBytes} bytes: must be a power of two from ${RING_BYTES_MIN} to ${RING_BYTES_MAX}; ` +
        'pick e.g. 1048576 (1 MiB holds ~700 full-size packets or ~10,000 small ones)',
    );
  }
  return { buffer: new SharedArrayBuffer(CONTROL_BYTES + capacityBytes), capacityBytes };
}

function checkMemory(memory: RingMemory): void {
  assert.ok(memory.buffer instanceof SharedArrayBuffer, 'a ring lives in a SharedArrayBuffer');
  assert.ok(
    memory.buffer.byteLength === CONTROL_BYTES + memory.capacityBytes,
    'ring memory has its declared size',
  );
}

/** Counters of one ring, read from either side (each is written by one side only). */
export interface RingStats {
  published: number;
  dropped: number;
  oversize: number;
  consumed: number;
  /** Bytes published and not yet released. */
  usedBytes: number;
}

export function readRingStats(memory: RingMemory): RingStats {
  const control = new Int32Array(memory.buffer, 0, CONTROL_WORDS);
  return {
    published: control[PUBLISHED] >>> 0,
    dropped: control[DROPPED] >>> 0,
    oversize: control[OVERSIZE] >>> 0,
    consumed: control[CONSUMED] >>> 0,
    usedBytes: (Atomics.load(control, HEAD) - Atomics.load(control, TAIL)) | 0,
  };
}

/**
 * The writing end. `push` copies one packet into the ring without publishing it; `publish` makes every
 * pushed packet visible to the consumer at once (one Atomics store, and a notify only when the consumer
 * sleeps). A packet that does not fit is dropped and counted, never waited for: the producer is a TUN
 * reader that must not stall behind a slow owner.
 */
export class RingProducer {
  private readonly control: Int32Array;
  private readonly data: Uint8Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  private readonly capacity: number;
  /** Byte position after the last pushed (maybe unpublished) record. */
  private head: number;
  /** The consumer's tail as last read; re-read only when the ring looks full. */
  private tailSeen: number;
  private unpublished = 0;
  private readonly doorbell: Doorbell | null;
  // The source's words, cached by its ArrayBuffer: packets come from one batch buffer per worker, so this
  // is built once, not per packet.
  private sourceBuffer: ArrayBufferLike | null = null;
  private sourceWords: Int32Array = new Int32Array(0);

  constructor(memory: RingMemory, doorbell: Doorbell | null = null) {
    checkMemory(memory);
    this.control = new Int32Array(memory.buffer, 0, CONTROL_WORDS);
    this.data = new Uint8Array(memory.buffer, CONTROL_BYTES, memory.capacityBytes);
    this.words = new Int32Array(memory.buffer, CONTROL_BYTES, memory.capacityBytes >>> 2);
    this.capacity = memory.capacityBytes;
    this.mask = memory.capacityBytes - 1;
    this.head = Atomics.load(this.control, HEAD);
    this.tailSeen = Atomics.load(this.control, TAIL);
    this.doorbell = doorbell;
  }

  /**
   * Copies `source[start, start + length)` into the ring with `tag` (the caller's word: a shard, a
   * direction). Returns false, counting a drop, when the ring is full or the packet is longer than
   * RING_PACKET_BYTES_MAX. Not visible to the consumer before `publish`.
   */
  push(source: Uint8Array, start: number, length: number, tag: number): boolean {
    const control = this.control;
    if (length > RING_PACKET_BYTES_MAX || length < 0) {
      control[OVERSIZE]++;
      return false;
    }
    const capacity = this.capacity;
    // The payload starts at the source's alignment modulo 4, so the bulk copies word by word.
    const sourceAbsolute = source.byteOffset + start;
    const pad = sourceAbsolute & 3;
    const recordBytes = (RECORD_HEADER_BYTES + pad + length + 3) & ~3;
    let position = this.head & this.mask;
    const tail = capacity - position;
    const needed = recordBytes <= tail ? recordBytes : tail + recordBytes;
    if (((this.head - this.tailSeen) | 0) + needed > capacity) {
      this.tailSeen = Atomics.load(control, TAIL);
      if (((this.head - this.tailSeen) | 0) + needed > capacity) {
        control[DROPPED]++;
        return false;
      }
    }
    const words = this.words;
    if (recordBytes > tail) {
      words[position >>> 2] = SKIP;
      this.head = (this.head + tail) | 0;
      position = 0;
    }
    const w = position >>> 2;
    words[w] = length | (pad << 24);
    words[w + 1] = tag;
    this.copy(source, sourceAbsolute, start, position + RECORD_HEADER_BYTES + pad, length);
    this.head = (this.head + recordBytes) | 0;
    this.unpublished++;
    return true;
  }

  /** Makes every pushed packet visible (one Atomics store) and wakes a sleeping consumer. */
  publish(): void {
    if (this.unpublished === 0) return;
    const control = this.control;
    control[PUBLISHED] = (control[PUBLISHED] + this.unpublished) | 0;
    this.unpublished = 0;
    Atomics.store(control, HEAD, this.head);
    if (Atomics.load(control, WAITING) !== 0) Atomics.notify(control, HEAD, 1);
    if (this.doorbell !== null) this.doorbell.ring();
  }

  /** Packets pushed since the last publish. */
  get pendingPackets(): number {
    return this.unpublished;
  }

  /**
   * Bytes a push could still take now (one Atomics load of the consumer's tail). A record takes its
   * packet's length plus up to 11 bytes (header, alignment pad), and a record that would straddle the
   * ring's end also wastes the end's bytes, so a producer that wants a batch to fit whole asks for
   * that much room (a reader pacing itself to its slowest consumer; the benches' lossless mode).
   */
  freeBytes(): number {
    this.tailSeen = Atomics.load(this.control, TAIL);
    return this.capacity - ((this.head - this.tailSeen) | 0);
  }

  private copy(
    source: Uint8Array,
    sourceAbsolute: number,
    start: number,
    position: number,
    length: number,
  ): void {
    const data = this.data;
    if (length > RING_WORD_COPY_BYTES_MAX) {
      data.set(source.subarray(start, start + length), position);
      return;
    }
    let i = 0;
    // Bytes up to the source's next word boundary (the destination shares its alignment).
    const lead = Math.min((4 - (sourceAbsolute & 3)) & 3, length);
    for (; i < lead; i++) data[position + i] = source[start + i];
    const wordCount = (length - i) >>> 2;
    if (wordCount > 0) {
      const buffer = source.buffer;
      if (buffer !== this.sourceBuffer) {
        this.sourceBuffer = buffer;
        this.sourceWords = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
      }
      const sourceWords = this.sourceWords;
      const words = this.words;
      const s = (sourceAbsolute + i) >>> 2;
      const d = (position + i) >>> 2;
      for (let k = 0; k < wordCount; k++) words[d + k] = sourceWords[s + k];
      i += wordCount << 2;
    }
    for (; i < length; i++) data[position + i] = source[start + i];
  }
}

/**
 * The records one `poll` returned: packet i is `ring.data[offsets[i], offsets[i] + lengths[i])` with the
 * producer's `tags[i]`. Valid until the consumer's `release`.
 */
export class RingBatch {
  // Uint32Array like a TUN read batch (libs/tun), so one batch loop takes either without a second shape.
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly tags: Int32Array;
  count = 0;

  constructor(packetsMax: number) {
    assert.ok(Number.isInteger(packetsMax) && packetsMax > 0, 'a ring batch holds at least one packet');
    assert.ok(packetsMax <= RING_POLL_PACKETS_MAX, 'a ring batch is at most RING_POLL_PACKETS_MAX packets');
    this.offsets = new Uint32Array(packetsMax);
    this.lengths = new Uint32Array(packetsMax);
    this.tags = new Int32Array(packetsMax);
  }
}

/**
 * The reading end. `poll` lists published records in place (no copy), `release` hands their space back
 * to the producer. Wake-up: the consumer's own loop polls (a TUN worker between batches), or `wait`
 * sleeps in Atomics.wait until the producer publishes.
 */
export class RingConsumer {
  /** The ring's bytes; a polled packet lies inside at its offset. */
  readonly data: Uint8Array;
  private readonly control: Int32Array;
  private readonly words: Int32Array;
  private readonly mask: number;
  private readonly capacity: number;
  private tail: number;
  private pendingTail: number;
  private pendingPackets = 0;

  constructor(memory: RingMemory) {
    checkMemory(memory);
    this.control = new Int32Array(memory.buffer, 0, CONTROL_WORDS);
    this.data = new Uint8Array(memory.buffer, CONTROL_BYTES, memory.capacityBytes);
    this.words = new Int32Array(memory.buffer, CONTROL_BYTES, memory.capacityBytes >>> 2);
    this.capacity = memory.capacityBytes;
    this.mask = memory.capacityBytes - 1;
    this.tail = Atomics.load(this.control, TAIL);
    this.pendingTail = this.tail;
  }

  /** True when published records wait beyond what the last poll returned (one Atomics load). */
  hasData(): boolean {
    return Atomics.load(this.control, HEAD) !== this.pendingTail;
  }

  /**
   * Fills `batch` with up to `batch.offsets.length` published records after the previous poll (one
   * Atomics load of the producer's head). Returns the count. The space stays reserved until `release`.
   */
  poll(batch: RingBatch): number {
    const head = Atomics.load(this.control, HEAD);
    const words = this.words;
    const mask = this.mask;
    const max = batch.offsets.length;
    let position = this.pendingTail;
    let count = 0;
    while (position !== head && count < max) {
      const at = position & mask;
      const word = words[at >>> 2];
      if (word === SKIP) {
        position = (position + (this.capacity - at)) | 0;
        continue;
      }
      const length = word & 0xffffff;
      const pad = word >>> 24;
      batch.offsets[count] = at + RECORD_HEADER_BYTES + pad;
      batch.lengths[count] = length;
      batch.tags[count] = words[(at >>> 2) + 1];
      count++;
      position = (position + ((RECORD_HEADER_BYTES + pad + length + 3) & ~3)) | 0;
    }
    batch.count = count;
    this.pendingTail = position;
    this.pendingPackets += count;
    return count;
  }

  /** Gives the space of every polled record back to the producer (one Atomics store). */
  release(): void {
    if (this.pendingTail === this.tail) return;
    const control = this.control;
    control[CONSUMED] = (control[CONSUMED] + this.pendingPackets) | 0;
    this.pendingPackets = 0;
    this.tail = this.pendingTail;
    Atomics.store(control, TAIL, this.tail);
  }

  /**
   * Sleeps until the producer publishes or `timeoutMs` passes; returns at once when records wait.
   * For a consumer with several incoming rings, wait on a shared Doorbell instead.
   */
  wait(timeoutMs: number): void {
    const control = this.control;
    Atomics.store(control, WAITING, 1);
    // Re-read after announcing the wait: a publish between the two is either seen here or notifies.
    const head = Atomics.load(control, HEAD);
    if (head === this.pendingTail) Atomics.wait(control, HEAD, head, timeoutMs);
    Atomics.store(control, WAITING, 0);
  }
}

/**
 * One wake-up word for a consumer with several incoming rings: every producer rings it after a publish
 * (an Atomics add, and a notify only while the consumer sleeps); the consumer waits on it once.
 */
export class Doorbell {
  readonly buffer: SharedArrayBuffer;
  private readonly words: Int32Array;
  private seen = 0;

  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    assert.ok(buffer.byteLength >= 8, 'a doorbell is two words');
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, 2);
    this.seen = Atomics.load(this.words, 0);
  }

  ring(): void {
    Atomics.add(this.words, 0, 1);
    if (Atomics.load(this.words, 1) !== 0) Atomics.notify(this.words, 0, 1);
  }

  /** Sleeps until rung after the previous wait returned, or `timeoutMs`; true when it was rung. */
  wait(timeoutMs: number): boolean {
    const words = this.words;
    Atomics.store(words, 1, 1);
    const value = Atomics.load(words, 0);
    if (value === this.seen) Atomics.wait(words, 0, value, timeoutMs);
    Atomics.store(words, 1, 0);
    const now = Atomics.load(words, 0);
    const rung = now !== this.seen;
    this.seen = now;
    return rung;
  }
}
