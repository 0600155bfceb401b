// Proves the offset contract (contract.ts): a packet translated where it lies inside a larger buffer,
// `input[inStart, inStart + inLength)` with random garbage before and after it, into an output buffer
// from `outStart` on, gives exactly what translating it alone at offset 0 gives (verdict, reason,
// count, lengths, bytes), and writes no output byte outside [outStart, outStart + result.length).
// Checked for the stateless and the stateful translator and for extractFlowKey4/6, over every golden
// vector and over seeded random and mutated packets. XLAT64_FUZZ_SEED replays a run.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  baseSeed,
  configs,
  loadVectorInputs,
  mutate,
  Rng,
  randomPacket,
  seedFor,
} from '../../../test/fuzz/support.js';
import { vectorDir } from '../../../test/vectors/generate.js';
import { cases } from '../../../test/vectors/rfc7915/cases.js';
import type { TranslatorConfigInput } from '../src/contract.js';
import {
  createStatefulTranslator,
  createTranslator,
  extractFlowKey4,
  extractFlowKey6,
  FlowKey,
  type StatefulTranslator,
  type TranslationResult,
  type Translator,
  Verdict,
  XlatTuple,
} from '../src/index.js';

const RANDOM_PACKETS = 50_000;
const PLACEMENTS_PER_VECTOR = 16;
const FAILURES_KEPT = 5;

/** A translator at offset 0 and one at offsets, fed the same packets so their generators stay in step. */
interface Pair {
  reference: Translator;
  placed: Translator;
  statefulReference: StatefulTranslator;
  statefulPlaced: StatefulTranslator;
}

function pairFor(config: TranslatorConfigInput): Pair {
  return {
    reference: createTranslator(config),
    placed: createTranslator(config),
    statefulReference: createStatefulTranslator(config),
    statefulPlaced: createStatefulTranslator(config),
  };
}

const tuple = new XlatTuple();
tuple.src4 = 0xcb007107 | 0; // 203.0.113.7
tuple.dst4 = 0xc6336402 | 0; // 198.51.100.2
tuple.src6.set([0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 2]);
tuple.dst6.set([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
tuple.srcPort = 40_001;
tuple.dstPort = 443;

const referenceOutput = new Uint8Array(65535 + 9000 + 2048);
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

interface Checker {
  failures: string[];
  checked: number;
  /** Places `packet` at random offsets and compares every translation and flow key with offset 0. */
  check(pair: Pair, packet: Uint8Array, direction: 46 | 64, label: string): void;
}

function outcome(verdict: Verdict, r: TranslationResult): string {
  return JSON.stringify({
    verdict,
    reason: r.reason,
    count: r.count,
    lengths: Array.from(r.lengths.subarray(0, verdict === Verdict.Drop ? 0 : r.count)),
    length: r.length,
  });
}

function keyFields(k: FlowKey): string {
  const i = k.inner;
  return JSON.stringify([
    k.family,
    k.protocol,
    hex(k.src),
    hex(k.dst),
    k.src4,
    k.dst4,
    k.srcPort,
    k.dstPort,
    k.hasPorts,
    k.tcpFlags,
    k.icmpType,
    k.icmpCode,
    k.icmpError,
    k.isFragment,
    k.fragmentOffset,
    k.moreFragments,
    k.fragmentId,
    i.protocol,
    hex(i.src),
    hex(i.dst),
    i.src4,
    i.dst4,
    i.srcPort,
    i.dstPort,
    i.hasPorts,
  ]);
}

function createChecker(rng: Rng): Checker {
  const failures: string[] = [];
  const keyReference = new FlowKey();
  const keyPlaced = new FlowKey();
  const checker: Checker = {
    failures,
    checked: 0,
    check(pair, packet, direction, label) {
      const fail = (what: string) => {
        if (failures.length < FAILURES_KEPT)
          failures.push(`${label} (direction ${direction}): ${what}; packet ${hex(packet).slice(0, 400)}`);
      };
      const inLength = packet.length;
      const inStart = rng.int(300);
      // Garbage before and after the packet: a read outside it would change the outcome.
      const input = rng.bytes(inStart + inLength + rng.int(100));
      input.set(packet, inStart);
      const before = Buffer.from(input);
      const outStart = rng.int(600);
      // The contract's minimum room, plus a little at random.
      const output = new Uint8Array(outStart + inLength + 2048 + rng.int(64));
      const canary = rng.bytes(output.length);

      const run = (
        name: string,
        reference: (out: Uint8Array) => Verdict,
        placed: (out: Uint8Array) => Verdict,
        referenceResult: TranslationResult,
        placedResult: TranslationResult,
      ) => {
        const want = reference(referenceOutput);
        const wantOutcome = outcome(want, referenceResult);
        const wantBytes = hex(
          referenceOutput.subarray(0, want === Verdict.Drop ? 0 : referenceResult.length),
        );
        output.set(canary);
        let got: Verdict;
        try {
          got = placed(output);
        } catch (e) {
          fail(`${name} threw at inStart ${inStart} outStart ${outStart}: ${(e as Error).message}`);
          return;
        }
        const gotOutcome = outcome(got, placedResult);
        if (gotOutcome !== wantOutcome) {
          fail(`${name} at inStart ${inStart} outStart ${outStart}: ${gotOutcome}, at 0: ${wantOutcome}`);
          return;
        }
        const written = got === Verdict.Drop ? 0 : placedResult.length;
        const gotBytes = hex(output.subarray(outStart, outStart + written));
        if (gotBytes !== wantBytes) {
          fail(`${name} at inStart ${inStart} outStart ${outStart}: output ${gotBytes}, at 0: ${wantBytes}`);
        }
        const outside =
          Buffer.compare(output.subarray(0, outStart), canary.subarray(0, outStart)) !== 0 ||
          Buffer.compare(output.subarray(outStart + written), canary.subarray(outStart + written)) !== 0;
        if (outside) {
          fail(
            `${name} at inStart ${inStart} outStart ${outStart}: wrote outside [outStart, outStart + ${written})`,
          );
        }
      };

      if (direction === 46) {
        run(
          'v4ToV6',
          (out) => pair.reference.v4ToV6(packet, out),
          (out) => pair.placed.v4ToV6(input, out, inStart, inLength, outStart),
          pair.reference.result,
          pair.placed.result,
        );
        run(
          'stateful v4ToV6',
          (out) => pair.statefulReference.v4ToV6(packet, out, tuple),
          (out) => pair.statefulPlaced.v4ToV6(input, out, tuple, inStart, inLength, outStart),
          pair.statefulReference.result,
          pair.statefulPlaced.result,
        );
      } else {
        run(
          'v6ToV4',
          (out) => pair.reference.v6ToV4(packet, out),
          (out) => pair.placed.v6ToV4(input, out, inStart, inLength, outStart),
          pair.reference.result,
          pair.placed.result,
        );
        run(
          'stateful v6ToV4',
          (out) => pair.statefulReference.v6ToV4(packet, out, tuple),
          (out) => pair.statefulPlaced.v6ToV4(input, out, tuple, inStart, inLength, outStart),
          pair.statefulReference.result,
          pair.statefulPlaced.result,
        );
      }

      const extract = direction === 46 ? extractFlowKey4 : extractFlowKey6;
      const wantReason = extract(packet, keyReference);
      const gotReason = extract(input, keyPlaced, inStart, inLength);
      if (gotReason !== wantReason || keyFields(keyPlaced) !== keyFields(keyReference)) {
        fail(
          `extractFlowKey${direction === 46 ? 4 : 6} at inStart ${inStart}: ${gotReason} ${keyFields(keyPlaced)}, ` +
            `at 0: ${wantReason} ${keyFields(keyReference)}`,
        );
      }
      if (!before.equals(input)) fail('the input buffer was modified');
      checker.checked++;
    },
  };
  return checker;
}

function report(name: string, seed: number, checker: Checker): string {
  return `offsets ${name} failed with base seed ${baseSeed} (seed ${seed}; replay: XLAT64_FUZZ_SEED=${baseSeed} npx vitest run libs/xlat/test/offsets.test.ts):\n${checker.failures.join('\n')}`;
}

describe('a packet translated inside larger buffers equals the packet translated alone (contract.ts offsets)', () => {
  it(`every golden vector at ${PLACEMENTS_PER_VECTOR} random inStart/outStart placements: same verdict, reason, lengths, bytes and flow key; no byte written outside the result`, () => {
    const name = 'offsets-vectors';
    const seed = seedFor(name);
    process.stdout.write(`${name}: seed ${seed} (XLAT64_FUZZ_SEED=${baseSeed})\n`);
    const checker = createChecker(new Rng(seed));
    const pairs = new Map<string, Pair>();
    for (const c of cases) {
      const key = JSON.stringify(c.config);
      let pair = pairs.get(key);
      if (!pair) {
        pair = pairFor(c.config);
        pairs.set(key, pair);
      }
      const packet = readFileSync(join(vectorDir, `${c.id}.in`));
      for (let i = 0; i < PLACEMENTS_PER_VECTOR; i++)
        checker.check(pair, packet, c.direction, `${c.id} #${i}`);
    }
    expect(checker.failures, report(name, seed, checker)).toEqual([]);
    expect(checker.checked).toBe(cases.length * PLACEMENTS_PER_VECTOR);
    expect(cases.length).toBeGreaterThan(200);
  });

  it(`${RANDOM_PACKETS} random, ICMP-error and mutated packets at random placements, through every fuzz configuration`, () => {
    const name = 'offsets-random';
    const seed = seedFor(name);
    process.stdout.write(`${name}: seed ${seed} (XLAT64_FUZZ_SEED=${baseSeed})\n`);
    const rng = new Rng(seed);
    const checker = createChecker(rng);
    const pairs = configs.map(pairFor);
    const corpus = loadVectorInputs();
    let translatedAtOffset = 0;
    for (let i = 0; i < RANDOM_PACKETS; i++) {
      const kind = rng.int(5);
      let packet: Buffer;
      if (kind < 2) packet = mutate(rng, rng.pick(corpus));
      else packet = randomPacket(rng, rng.chance(0.5) ? 4 : 6, 0, kind === 4);
      const native = packet.length > 0 && packet[0] >> 4 === 6 ? 64 : 46;
      const direction = rng.chance(0.05) ? (native === 46 ? 64 : 46) : native;
      const ci = rng.int(pairs.length);
      checker.check(pairs[ci], packet, direction, `${name} packet ${i} config ${ci}`);
      if (pairs[ci].placed.result.count > 0) translatedAtOffset++;
    }
    expect(checker.failures, report(name, seed, checker)).toEqual([]);
    expect(checker.checked).toBe(RANDOM_PACKETS);
    // The corpus must reach the rewrite, not only the parsers' drops.
    expect(translatedAtOffset).toBeGreaterThan(RANDOM_PACKETS / 10);
  });

  it('offsets outside the arrays are a programmer error: RangeError, nothing written', () => {
    const t = createTranslator(configs[0]);
    const input = new Uint8Array(100);
    const output = new Uint8Array(100).fill(7);
    expect(() => t.v4ToV6(input, output, 90, 20)).toThrow(RangeError);
    expect(() => t.v6ToV4(input, output, -1, 10)).toThrow(RangeError);
    expect(() => t.v6ToV4(input, output, 0, 100, 101)).toThrow(RangeError);
    const s = createStatefulTranslator(configs[0]);
    expect(() => s.v6ToV4(input, output, tuple, 0, 101)).toThrow(RangeError);
    expect(output.every((b) => b === 7)).toBe(true);
  });
});
