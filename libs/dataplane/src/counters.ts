// Packet counters shared between the reading workers and the main thread: one SharedArrayBuffer
// of float64 per worker, one slot per counter name, written only by its worker (single writer, no
// atomics needed on the packet path) and summed by the main thread for `xlat64 status`.
import assert from 'node:assert/strict';

export class CounterLayout {
  readonly names: readonly string[];
  private readonly indexByName: Map<string, number>;

  constructor(names: readonly string[]) {
    assert.equal(new Set(names).size, names.length, 'counter names must be unique');
    this.names = names;
    this.indexByName = new Map(names.map((name, index) => [name, index]));
  }

  index(name: string): number {
    const index = this.indexByName.get(name);
    assert.ok(index !== undefined, `unknown counter '${name}'`);
    return index;
  }

  allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(this.names.length * Float64Array.BYTES_PER_ELEMENT);
  }
}

/** Sums the per-worker counter blocks into one name → value record, leaving out zeros unless asked. */
export function sumCounters(
  layout: CounterLayout,
  blocks: readonly SharedArrayBuffer[],
  includeZeros = false,
): Record<string, number> {
  const totals = new Float64Array(layout.names.length);
  for (const block of blocks) {
    const values = new Float64Array(block);
    assert.equal(values.length, totals.length, 'counter block does not match the layout');
    for (let i = 0; i < values.length; i++) totals[i] += values[i];
  }
  const out: Record<string, number> = {};
  layout.names.forEach((name, i) => {
    if (includeZeros || totals[i] !== 0) out[name] = totals[i];
  });
  return out;
}
