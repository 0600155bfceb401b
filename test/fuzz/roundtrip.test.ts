// Proves translation is faithful in both directions (RFC 7915 sec. 4.1/5.1 header fields, 4.5/5.5
// checksums, 4.2/5.2 echo types): a random valid TCP, UDP or ICMP echo packet translated there and
// back keeps its addresses, TOS/traffic class, protocol, lengths and transport bytes, loses exactly 2
// TTL, and both translations are well-formed. Seeded; XLAT64_FUZZ_SEED replays.
import { describe, expect, it } from 'vitest';
import { createTranslator, type Translator } from '../../libs/xlat/src/index.js';
import { baseSeed, plainPacket, Rng, roundTrip, seedFor } from './support.js';

const PER_TEST = 25_000;
const PREFIX = '2001:db8:64::';

describe('round trips through the translator', () => {
  const t = createTranslator({ prefix: `${PREFIX}/96` });
  it('the round-trip check reports a translator that alters one payload byte on the way back', () => {
    const corrupting: Translator = {
      result: t.result,
      warnings: t.warnings,
      v4ToV6: (i, o) => t.v4ToV6(i, o),
      v6ToV4: (i, o) => {
        const v = t.v6ToV4(i, o);
        o[t.result.length - 1] ^= 1;
        return v;
      },
    };
    const packet = plainPacket(new Rng(1), 4, PREFIX);
    expect(roundTrip(t, packet)).toEqual([]);
    expect(roundTrip(corrupting, packet).join('; ')).toMatch(/after the checksum changed|checksum wrong/);
  });
  for (const family of [4, 6] as const) {
    for (let part = 0; part < 2; part++) {
      const name = `roundtrip-ipv${family}-${part}`;
      it(`${name}: ${PER_TEST} random IPv${family} packets come back from a round trip unchanged but for TTL`, () => {
        const rng = new Rng(seedFor(name));
        const failures: string[] = [];
        for (let i = 0; i < PER_TEST && failures.length < 5; i++) {
          const packet = plainPacket(rng, family, PREFIX);
          const problems = roundTrip(t, packet);
          if (problems.length > 0)
            failures.push(
              `packet ${i}: ${problems.join('; ')}; input ${packet.toString('hex').slice(0, 300)}`,
            );
        }
        expect(
          failures,
          `fuzz ${name} failed with base seed ${baseSeed} (replay: XLAT64_FUZZ_SEED=${baseSeed} npx vitest run test/fuzz)`,
        ).toEqual([]);
      });
    }
  }
});
