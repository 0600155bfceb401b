// Counters written by several workers into their own shared blocks add up per name in the reader.
import { describe, expect, it } from 'vitest';
import { CounterLayout, sumCounters } from '../src/counters.js';

describe('shared counters', () => {
  it('sums per-worker blocks by name and leaves zero counters out by default', () => {
    const layout = new CounterLayout(['packets46', 'packets64', 'drop.ttl46']);
    const a = layout.allocate();
    const b = layout.allocate();
    new Float64Array(a)[layout.index('packets46')] = 3;
    new Float64Array(b)[layout.index('packets46')] = 4;
    new Float64Array(b)[layout.index('drop.ttl46')] = 1;
    expect(sumCounters(layout, [a, b])).toEqual({ packets46: 7, 'drop.ttl46': 1 });
    expect(sumCounters(layout, [a, b], true)).toEqual({ packets46: 7, packets64: 0, 'drop.ttl46': 1 });
  });

  it('refuses duplicate names and unknown names, which are programming errors', () => {
    expect(() => new CounterLayout(['a', 'a'])).toThrow(/unique/);
    expect(() => new CounterLayout(['a']).index('b')).toThrow(/unknown counter 'b'/);
  });
});
