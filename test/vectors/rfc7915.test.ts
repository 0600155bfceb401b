// Proves the stateless translator meets RFC 7915 (and RFC 6052 / 7757 / 6791 / 4884) requirement by
// requirement: every golden vector in rfc7915/ is replayed through createTranslator, and its verdict,
// drop reason and output bytes must equal the hand-built expectation, every output packet must be
// well-formed, and the committed bytes must still be what the case table builds.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TranslatorConfigInput } from '../../libs/xlat/src/contract.js';
import { createTranslator, dropReasonNames, type Translator, Verdict } from '../../libs/xlat/src/index.js';
import { checkPacket } from '../support/wellformed.js';
import { render, vectorDir } from './generate.js';
import { cases } from './rfc7915/cases.js';
import { REPLY_MASK4, REPLY_MASK6 } from './rfc7915/helpers.js';

interface IndexEntry {
  id: string;
  verdict: string;
  reason: string;
  lengths: number[];
}

const index = JSON.parse(readFileSync(join(vectorDir, 'index.json'), 'utf8')) as IndexEntry[];
const verdictNames = ['Translate', 'Drop', 'ReplyIcmp'];

const translators = new Map<string, Translator>();
function translatorFor(config: TranslatorConfigInput): Translator {
  const key = JSON.stringify(config);
  let t = translators.get(key);
  if (!t) {
    t = createTranslator(config);
    translators.set(key, t);
  }
  return t;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Copies the translator-chosen fields of a generated ICMP error (see helpers.ts) into `expected`. */
function maskReply(expected: Buffer, actual: Uint8Array): Buffer {
  const e = Buffer.from(expected);
  const mask = (e[0] >> 4 === 4 ? REPLY_MASK4 : REPLY_MASK6) as readonly [number, number][];
  for (const [from, to] of mask)
    for (let i = from; i < to && i < actual.length && i < e.length; i++) e[i] = actual[i];
  return e;
}

/**
 * RFC 7915 sec. 5.1: the identification of an unfragmented IPv6->IPv4 packet is "set according to a
 * Fragment Identification generation algorithm at the translator", so for DF-clear, unfragmented
 * IPv4 packets (and such a packet quoted in a translated ICMPv4 error) the identification, and the
 * checksums that cover it, are the translator's choice: they are copied from the actual output.
 * The checksums are still verified by wellformed.ts. With `identification6to4: 'zero'` nothing is masked.
 */
function maskIdentification(expected: Buffer, actual: Uint8Array): Buffer {
  const e = Buffer.from(expected);
  const copy = (from: number, to: number) => {
    for (let i = from; i < to && i < actual.length && i < e.length; i++) e[i] = actual[i];
  };
  const generated = (at: number) => e.length >= at + 20 && (e.readUInt16BE(at + 6) & 0x7fff) === 0;
  if (e[0] !== 0x45) return e;
  if (generated(0)) {
    copy(4, 6);
    copy(10, 12);
  }
  if (e[9] === 1 && [3, 11, 12].includes(e[20]) && e.length >= 48 && e[28] >> 4 === 4 && generated(28)) {
    copy(22, 24);
    copy(32, 34);
    copy(38, 40);
  }
  return e;
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++)
    if (a[i] !== b[i])
      return `first difference at byte ${i}: got 0x${a[i].toString(16)}, want 0x${b[i].toString(16)}`;
  return a.length === b.length ? 'identical' : `lengths differ: got ${a.length}, want ${b.length}`;
}

describe('golden vectors are what the case table builds', () => {
  it('the committed .in/.expected bytes and index.json equal a fresh rendering of cases.ts (run generate.ts after editing cases)', () => {
    const rendered = render();
    expect(index.map((e) => e.id)).toEqual(rendered.map((r) => r.id));
    for (const r of rendered) {
      expect(hex(readFileSync(join(vectorDir, `${r.id}.in`))), `${r.id}.in`).toBe(hex(r.input));
      expect(hex(readFileSync(join(vectorDir, `${r.id}.expected`))), `${r.id}.expected`).toBe(
        hex(r.expected),
      );
    }
  });

  it('every expected output packet is itself well-formed (the oracle does not expect broken packets)', () => {
    for (const r of render()) {
      const entry = index.find((e) => e.id === r.id)!;
      let off = 0;
      for (const len of entry.lengths) {
        expect(checkPacket(r.expected.subarray(off, off + len)), r.id).toEqual([]);
        off += len;
      }
    }
  });
});

describe('RFC 7915 golden vectors through createTranslator', () => {
  for (const c of cases) {
    const entry = index.find((e) => e.id === c.id)!;
    it(`${c.id} (${c.section}): ${c.requirement}`, () => {
      const input = readFileSync(join(vectorDir, `${c.id}.in`));
      const expected = readFileSync(join(vectorDir, `${c.id}.expected`));
      const t = translatorFor(c.config);
      const output = new Uint8Array(input.length + 2048);
      const verdict = c.direction === 46 ? t.v4ToV6(input, output) : t.v6ToV4(input, output);
      const r = t.result;
      const got = {
        verdict: verdictNames[verdict] ?? `unknown verdict ${verdict}`,
        reason: dropReasonNames[r.reason] ?? `unnamed reason ${r.reason}`,
      };
      expect(got).toEqual({ verdict: c.verdict, reason: c.reason });
      if (verdict === Verdict.Drop) return;
      const lengths = Array.from(r.lengths.subarray(0, r.count));
      expect({ count: r.count, lengths, length: r.length }).toEqual({
        count: entry.lengths.length,
        lengths: entry.lengths,
        length: expected.length,
      });
      let off = 0;
      for (let i = 0; i < r.count; i++) {
        const actual = output.subarray(off, off + lengths[i]);
        let want: Buffer = expected.subarray(off, off + entry.lengths[i]);
        if (verdict === Verdict.ReplyIcmp) want = maskReply(want, actual);
        else if (c.direction === 64 && c.config.identification6to4 !== 'zero')
          want = maskIdentification(want, actual);
        expect(checkPacket(actual), `packet ${i} well-formed`).toEqual([]);
        expect(hex(actual), `packet ${i}: ${firstDifference(actual, want)}`).toBe(hex(want));
        off += lengths[i];
      }
    });
  }
});

describe('IPv4 identification of translated packets (RFC 7915 sec. 5.1, RFC 6864 sec. 4.1)', () => {
  it('three DF-clear packets of one flow translated 6->4 get three different identifications from the generator', () => {
    const c = cases.find((x) => x.id === '64-udp-basic')!;
    const t = createTranslator(c.config);
    const input = readFileSync(join(vectorDir, `${c.id}.in`));
    const output = new Uint8Array(input.length + 2048);
    const ids = new Set<number>();
    for (let i = 0; i < 3; i++) {
      expect(t.v6ToV4(input, output)).toBe(Verdict.Translate);
      expect(output[6] & 0x40, 'DF clear').toBe(0);
      ids.add((output[4] << 8) | output[5]);
    }
    expect(ids.size).toBe(3);
  });
});

describe('configuration is validated (RFC 6052 sec. 2.2, RFC 7757 sec. 3)', () => {
  const bad: [string, TranslatorConfigInput, string][] = [
    ['a /33 prefix (RFC 6052 allows 32, 40, 48, 56, 64, 96)', { prefix: '2001:db8::/33' }, 'prefix'],
    [
      'a prefix with bits 64-71 set in a /96 (RFC 6052 sec. 2.2 "MUST be set to zero")',
      { prefix: '2001:db8:0:0:ff00::/96' },
      'prefix',
    ],
    [
      'an EAM whose IPv4 suffix is longer than its IPv6 suffix (RFC 7757 sec. 3.2)',
      { prefix: '64:ff9b::/96', eam: [{ ipv4: '192.0.2.0/24', ipv6: '2001:db8::/124' }] },
      'eam',
    ],
  ];
  for (const [what, config, field] of bad) {
    it(`refuses ${what} with XLAT64_ERR_CONFIG naming the field`, () => {
      let error: unknown;
      try {
        createTranslator(config);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(Error);
      const e = error as { code?: string; field?: string };
      expect(e.code).toBe('XLAT64_ERR_CONFIG');
      expect(String(e.field)).toContain(field);
    });
  }
});
