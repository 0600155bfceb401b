// Test helper: runs one translate call into an output buffer pre-filled with a marker byte, so a test
// sees fields the translator forgot to write (they keep the marker) and any byte written outside the
// result (the contract: nothing outside [outStart, outStart + result.length), nothing on a Drop).
import { dropReasonName, Verdict } from '../src/index.js';

export const MARK = 0xa5;

export interface DirtyRun {
  verdict: number;
  /** Name of result.reason. */
  reason: string;
  /** The written result, [outStart, outStart + result.length) (empty on a Drop). */
  bytes: Buffer;
  /** Indexes of output bytes outside the result that no longer hold MARK. */
  outside: number[];
}

export interface RunOptions {
  outStart?: number;
  /** Output bytes from outStart on (default: the input length + 2048, the contract's minimum). */
  room?: number;
  /** Packet length inside `input` (default: all of it), so bytes after the packet can be junk. */
  inLength?: number;
}

export type TranslateCall = (
  input: Uint8Array,
  output: Uint8Array,
  inStart: number,
  inLength: number,
  outStart: number,
) => number;

export function dirtyRun(
  result: { reason: number; length: number },
  call: TranslateCall,
  input: Uint8Array,
  o: RunOptions = {},
): DirtyRun {
  const outStart = o.outStart ?? 0;
  const inLength = o.inLength ?? input.length;
  const output = new Uint8Array(outStart + (o.room ?? inLength + 2048)).fill(MARK);
  const verdict = call(input, output, 0, inLength, outStart);
  const end = outStart + (verdict === Verdict.Drop ? 0 : result.length);
  const outside: number[] = [];
  output.forEach((b, i) => {
    if ((i < outStart || i >= end) && b !== MARK) outside.push(i);
  });
  return {
    verdict,
    reason: dropReasonName(result.reason),
    bytes: Buffer.from(output.subarray(outStart, end)),
    outside,
  };
}

interface BothWays {
  readonly result: { reason: number; length: number };
  v4ToV6(input: Uint8Array, output: Uint8Array, inStart: number, inLength: number, outStart: number): number;
  v6ToV4(input: Uint8Array, output: Uint8Array, inStart: number, inLength: number, outStart: number): number;
}

export function run46(t: BothWays, input: Uint8Array, o?: RunOptions): DirtyRun {
  return dirtyRun(t.result, (i, out, s, l, os) => t.v4ToV6(i, out, s, l, os), input, o);
}

export function run64(t: BothWays, input: Uint8Array, o?: RunOptions): DirtyRun {
  return dirtyRun(t.result, (i, out, s, l, os) => t.v6ToV4(i, out, s, l, os), input, o);
}
