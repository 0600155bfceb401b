// Proves the translator survives random ICMPv4/ICMPv6 errors (RFC 7915 sec. 4.2-4.3 and 5.2-5.3) with
// random inner packets (truncated, wrong family, errors inside errors, RFC 4884 lengths and
// extensions): no exception, well-formed output only, named drops. Seeded; XLAT64_FUZZ_SEED replays.
import { describe, expect, it } from 'vitest';
import { failureReport, randomPacket, runFuzz } from './support.js';

const PER_TEST = 40_000;

describe('random ICMP errors through the translator', () => {
  for (const family of [4, 6] as const) {
    for (let part = 0; part < 2; part++) {
      const name = `icmp-error-ipv${family}-${part}`;
      it(`${name}: ${PER_TEST} random ICMPv${family === 4 ? 4 : 6} errors never throw, produce only well-formed packets and named drops`, () => {
        const stats = runFuzz(name, PER_TEST, (rng) => ({
          packet: randomPacket(rng, family, 0, true),
          direction: family === 4 ? 46 : 64,
        }));
        expect(stats.failures, failureReport(name, stats)).toEqual([]);
        expect(stats.packets).toBe(PER_TEST);
      });
    }
  }
});
