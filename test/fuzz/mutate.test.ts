// Proves the translator survives mutations of every golden vector input (bit flips, truncation,
// length-field, header, inner-header and protocol tampering, appended bytes): no exception, only
// well-formed output packets, and a named reason for every drop. Seeded; XLAT64_FUZZ_SEED replays.
import { describe, expect, it } from 'vitest';
import { failureReport, loadVectorInputs, mutate, runFuzz } from './support.js';

const PER_TEST = 100_000;
const corpus = loadVectorInputs();

describe('mutated golden vectors through the translator', () => {
  it('the mutation corpus holds the golden vector inputs of both families', () => {
    expect(corpus.length).toBeGreaterThan(200);
    expect(corpus.some((p) => p[0] >> 4 === 4) && corpus.some((p) => p[0] >> 4 === 6)).toBe(true);
  });
  for (let part = 0; part < 4; part++) {
    const name = `mutate-${part}`;
    it(`${name}: ${PER_TEST} mutated vectors never throw, produce only well-formed packets and named drops`, () => {
      const stats = runFuzz(name, PER_TEST, (rng) => {
        const original = rng.pick(corpus);
        const native = original[0] >> 4 === 4 ? 46 : 64;
        const direction = rng.chance(0.05) ? (native === 46 ? 64 : 46) : native;
        return { packet: mutate(rng, original), direction };
      });
      expect(stats.failures, failureReport(name, stats)).toEqual([]);
      expect(stats.packets).toBe(PER_TEST);
    });
  }
});
