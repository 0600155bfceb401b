// Proves the translator survives arbitrary bytes in both directions (any length, with a plausible
// version nibble half the time): no exception, well-formed output only, named drops.
// Seeded; XLAT64_FUZZ_SEED replays.
import { describe, expect, it } from 'vitest';
import { failureReport, runFuzz } from './support.js';

const PER_TEST = 60_000;

describe('random bytes through the translator', () => {
  for (let part = 0; part < 2; part++) {
    const name = `bytes-${part}`;
    it(`${name}: ${PER_TEST} random byte strings never throw, produce only well-formed packets and named drops`, () => {
      const stats = runFuzz(name, PER_TEST, (rng) => {
        const packet = rng.bytes(rng.chance(0.9) ? rng.int(100) : rng.int(2000));
        const direction = rng.chance(0.5) ? 46 : 64;
        if (packet.length > 0 && rng.chance(0.5))
          packet[0] = ((direction === 46 ? 4 : 6) << 4) | (packet[0] & 0x0f);
        if (packet.length > 5 && rng.chance(0.5)) {
          // A consistent length field, so more of these get past the first check.
          if (direction === 46) packet.writeUInt16BE(packet.length, 2);
          else if (packet.length >= 40) packet.writeUInt16BE(packet.length - 40, 4);
        }
        return { packet, direction };
      });
      expect(stats.failures, failureReport(name, stats)).toEqual([]);
      expect(stats.packets).toBe(PER_TEST);
    });
  }
});
