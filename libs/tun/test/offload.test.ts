// Unit tests of offload negotiation against a stand-in for the addon: each kernel generation refuses
// different TUN_F_* bits with EINVAL, and negotiateOffloads must settle on the most the kernel takes.
import { describe, expect, it } from 'vitest';
import type { TunNative } from '../src/index.js';
import {
  negotiateOffloads,
  offloadNames,
  TUN_OFFLOADS_ALL,
  TunError,
  TunErrorCode,
  TunOffload,
} from '../src/index.js';

/** A fake addon whose TUNSETOFFLOAD accepts only masks within `supported`, like the kernel does. */
function fakeKernel(supported: number, failure?: string): { native: TunNative; tried: number[] } {
  const tried: number[] = [];
  const native = {
    setOffload(_fd: number, flags: number) {
      tried.push(flags);
      if (failure)
        throw Object.assign(new Error(`TUNSETOFFLOAD on the TUN queue: ${failure}`), { code: failure });
      if ((flags & ~supported) !== 0) {
        throw Object.assign(new Error('TUNSETOFFLOAD on the TUN queue: EINVAL'), { code: 'EINVAL' });
      }
    },
  } as unknown as TunNative;
  return { native, tried };
}

describe('negotiateOffloads', () => {
  it('takes everything on a kernel with UDP segmentation offload (Linux 6.2+)', () => {
    const { native, tried } = fakeKernel(0x7f);
    expect(negotiateOffloads(3, TUN_OFFLOADS_ALL, native)).toBe(TUN_OFFLOADS_ALL);
    expect(tried).toEqual([TUN_OFFLOADS_ALL]);
  });

  it('falls back to checksum + TSO4/6 + ECN on a kernel without USO', () => {
    const { native } = fakeKernel(0x1f);
    const accepted = negotiateOffloads(3, TUN_OFFLOADS_ALL, native);
    expect(offloadNames(accepted)).toEqual(['csum', 'tso4', 'tso6', 'tsoEcn']);
  });

  it('falls back to checksum only, then to none, when the kernel takes nothing more', () => {
    expect(negotiateOffloads(3, TUN_OFFLOADS_ALL, fakeKernel(TunOffload.csum).native)).toBe(TunOffload.csum);
    expect(negotiateOffloads(3, TUN_OFFLOADS_ALL, fakeKernel(0).native)).toBe(0);
  });

  it('never asks for more than requested', () => {
    const { native, tried } = fakeKernel(0x7f);
    expect(negotiateOffloads(3, TunOffload.csum | TunOffload.tso4, native)).toBe(
      TunOffload.csum | TunOffload.tso4,
    );
    expect(tried.every((mask) => (mask & ~(TunOffload.csum | TunOffload.tso4)) === 0)).toBe(true);
  });

  it('reports an error other than EINVAL as a typed configure error instead of silently dropping offloads', () => {
    let caught: unknown;
    try {
      negotiateOffloads(3, TUN_OFFLOADS_ALL, fakeKernel(0x7f, 'EBADF').native);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TunError);
    expect((caught as TunError).code).toBe(TunErrorCode.configure);
    expect((caught as TunError).errnoName).toBe('EBADF');
  });
});
