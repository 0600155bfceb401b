// Proves the translator survives random packets in both directions (RFC 7915 sec. 4 and 5 inputs with
// random options, fragments, extension chains and ICMP errors): it never throws, every packet it
// writes (translation or ICMP reply) is well-formed, and every drop carries a named reason.
// Seeded: a failure prints the seed; XLAT64_FUZZ_SEED=<seed> replays the run.
import { describe, expect, it } from 'vitest';
import { failureReport, randomPacket, runFuzz } from './support.js';

const PER_TEST = 60_000;

describe('random packets through the translator', () => {
  for (const family of [4, 6] as const) {
    for (let part = 0; part < 3; part++) {
      const name = `random-ipv${family}-${part}`;
      it(`${name}: ${PER_TEST} random IPv${family} packets never throw, produce only well-formed packets and named drops`, () => {
        const stats = runFuzz(name, PER_TEST, (rng) => {
          const wrongWay = rng.chance(0.05);
          const direction = (family === 4) !== wrongWay ? 46 : 64;
          return { packet: randomPacket(rng, family), direction };
        });
        expect(stats.failures, failureReport(name, stats)).toEqual([]);
        expect(stats.packets).toBe(PER_TEST);
      });
    }
  }
});
