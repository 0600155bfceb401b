// Proves a fresh engine result (verdict.ts) asks for nothing: a Drop with reason 'none', not a
// hairpin, and no hold ids (-1, the "none" value of holdId and releasedHoldId documented on
// EngineResult), so an owner reading it before the first packet forgets no held packet.
import { describe, expect, it } from 'vitest';
import { createEngineResult, EngineDropReason, EngineVerdict } from '../src/internal.js';

describe('engine result', () => {
  it('starts as a Drop with reason none, no hairpin and no hold or released hold id', () => {
    const r = createEngineResult();
    expect(r.verdict).toBe(EngineVerdict.Drop);
    expect(r.reason).toBe(EngineDropReason.none);
    expect(r.hairpin).toBe(false);
    expect(r.holdId).toBe(-1);
    expect(r.releasedHoldId).toBe(-1);
    expect(Array.from(r.v6)).toEqual([0, 0, 0, 0]);
  });
});
