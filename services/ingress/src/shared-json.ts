// A value the main thread changes while the node runs and the workers pick up: JSON in a
// SharedArrayBuffer under a sequence lock. The main thread is the one writer; each worker looks at the
// sequence in its maintenance tick and parses the value when it moved. Tenants (tenants/
// tenant-publish.ts), the cluster view (cluster/cluster-view.ts) and the fabric's keys
// (cluster/fabric-keys.ts) travel this way.

/** Header words: the sequence (odd while a write is under way) and the JSON's byte length. */
const HEADER_WORDS = 2;

export function createSharedJsonMemory(maxBytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER_WORDS * 4 + maxBytes);
}

/** The room for JSON in `memory`. */
export function sharedJsonCapacity(memory: SharedArrayBuffer): number {
  return memory.byteLength - HEADER_WORDS * 4;
}

/** Writes `value`; false (nothing written) when its JSON does not fit. Main thread only. */
export function publishSharedJson(memory: SharedArrayBuffer, value: unknown): boolean {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  if (bytes.length > sharedJsonCapacity(memory)) return false;
  const header = new Int32Array(memory, 0, HEADER_WORDS);
  Atomics.add(header, 0, 1); // odd: a write is under way
  new Uint8Array(memory, HEADER_WORDS * 4, bytes.length).set(bytes);
  Atomics.store(header, 1, bytes.length);
  Atomics.add(header, 0, 1); // even: complete
  return true;
}

/** A worker's view: what was published since its last poll. */
export class SharedJsonReader<T> {
  private seen = 0; // anything published before this worker started is read at its first poll
  private readonly header: Int32Array;

  constructor(private readonly memory: SharedArrayBuffer) {
    this.header = new Int32Array(memory, 0, HEADER_WORDS);
  }

  /** The value published since the last call; undefined when nothing was (or a write is under way). */
  poll(): T | undefined {
    const before = Atomics.load(this.header, 0);
    if (before === this.seen || (before & 1) === 1) return undefined;
    const length = Atomics.load(this.header, 1);
    const copy = new Uint8Array(length);
    copy.set(new Uint8Array(this.memory, HEADER_WORDS * 4, length));
    if (Atomics.load(this.header, 0) !== before) return undefined; // rewritten meanwhile: next tick
    this.seen = before;
    return JSON.parse(new TextDecoder().decode(copy)) as T;
  }
}
