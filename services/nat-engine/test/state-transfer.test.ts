// Handing a NatState to another thread (codec/nat-state-transfer.ts): the copy is every table in new
// buffers (views that share a buffer keep sharing one), structured-cloneable, independent of the live
// state; buffers of an earlier copy are written over when their size fits; the adopted state reads the
// same as the original (dump, invariants, snapshot bytes, timer wheels).
import { describe, expect, it } from 'vitest';
import {
  adoptNatStateTables,
  checkInvariants,
  copyNatStateTables,
  dumpState,
  NatState,
  snapshotNatState,
  TimerWheel,
  validateConfig,
} from '../src/internal.js';

const CONFIG = validateConfig({
  pool: ['203.0.113.8/31'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 1151], udp: [1024, 1151], icmp: [1024, 1151] },
  subscribersMax: 4,
  mappingsMax: 8,
  sessionsMax: 8,
});

function build(): NatState {
  const state = new NatState(CONFIG, 3, 0);
  const s = state.addSubscriber(0x20010db8, 0x100, 0, 0);
  state.subscriberAddress[s] = 1;
  state.leaseBlock(6, s, 0);
  const m = state.addMapping(1, [0x20010db8, 0x100, 0, 5], 5000, 0xcb007109, 1030, s, 6, 0);
  const x = state.addSession(m, 0xc6336401, 53, 0, 300_000, 0);
  state.setSessionExpiresAt(x, 310_000);
  state.sessionVisitLeadMs = 20_000;
  state.refusedEventVersions = 2;
  return state;
}

describe('NatState transfer', () => {
  it('proves the adopted copy reads as the original: dump, invariants, snapshot bytes and scalars', () => {
    const state = build();
    const copy = adoptNatStateTables(structuredClone(copyNatStateTables(state)));
    expect(copy).toBeInstanceOf(NatState);
    expect(dumpState(copy)).toEqual(dumpState(state));
    expect(dumpState(copy, { expiry: 'logged' })).toEqual(dumpState(state, { expiry: 'logged' }));
    expect(checkInvariants(copy)).toEqual([]);
    expect(snapshotNatState(copy, 1000)).toEqual(snapshotNatState(state, 1000));
    expect(copy.sessionVisitLeadMs).toBe(20_000);
    expect(copy.refusedEventVersions).toBe(2);
    expect(copy.subscriberCount).toBe(1);
    expect(copy.config).toEqual(state.config);
    // Views keep their type, offset and length.
    expect(copy.sessionExpiry).toBeInstanceOf(Float64Array);
    expect(copy.mappingWords).toBeInstanceOf(Int32Array);
    expect(copy.subscriberUsed).toBeInstanceOf(Uint8Array);
    expect(copy.blockIdleSinceMs.length).toBe(state.blockIdleSinceMs.length);
    // The wheels come across as wheels with the same schedule.
    expect(copy.sessionWheel).toBeInstanceOf(TimerWheel);
    const due = (wheel: TimerWheel) => {
      const seen: number[] = [];
      wheel.advance(300_000, (e) => seen.push(e));
      return seen;
    };
    expect(due(copy.sessionWheel)).toEqual(due(build().sessionWheel));
  });

  it('proves the copy is independent of the live state, and views sharing a buffer still share one', () => {
    const state = build();
    const tables = copyNatStateTables(state);
    const copy = adoptNatStateTables(tables);
    state.setSessionExpiresAt(0, 999_999);
    state.subscriberAddress[0] = 0;
    expect(copy.sessionExpiresAtOf(0)).toBe(310_000);
    expect(copy.subscriberAddress[0]).toBe(1);
    expect(copy.sessionRecord.buffer).toBe(copy.sessionExpiry.buffer);
    expect(copy.mappingRecord.buffer).toBe(copy.mappingWords.buffer);
    expect(copy.sessionRecord.buffer).not.toBe(state.sessionRecord.buffer);
    // One buffer per distinct source buffer.
    const sources = new Set<ArrayBufferLike>();
    const collect = (object: object) => {
      for (const value of Object.values(object)) {
        if (ArrayBuffer.isView(value)) sources.add(value.buffer);
        else if (value instanceof TimerWheel) collect(value);
      }
    };
    collect(state);
    expect(tables.buffers.length).toBe(sources.size);
  });

  it("proves an earlier copy's buffers are written over when their sizes fit, and replaced when not", () => {
    const state = build();
    const first = copyNatStateTables(state);
    state.setSessionExpiresAt(0, 420_000);
    const second = copyNatStateTables(state, first.buffers);
    expect(second.buffers.length).toBe(first.buffers.length);
    second.buffers.forEach((buffer, i) => {
      expect(buffer).toBe(first.buffers[i]);
    });
    expect(adoptNatStateTables(second).sessionExpiresAtOf(0)).toBe(420_000);
    // A spare of another size is not used.
    const spares = first.buffers.map((b) => new ArrayBuffer(b.byteLength + 8));
    const third = copyNatStateTables(state, spares);
    third.buffers.forEach((buffer, i) => {
      expect(buffer).not.toBe(spares[i]);
      expect(buffer.byteLength).toBe(first.buffers[i].byteLength);
    });
    expect(adoptNatStateTables(third).sessionExpiresAtOf(0)).toBe(420_000);
    // Fewer spares than buffers: the rest are new.
    const partial = copyNatStateTables(state, first.buffers.slice(0, 1));
    expect(partial.buffers[0]).toBe(first.buffers[0]);
    expect(partial.buffers[1]).not.toBe(first.buffers[1]);
  });

  it('proves a table of a view type the transfer does not know is refused, naming the field', () => {
    const state = build() as NatState & { extra?: BigInt64Array };
    state.extra = new BigInt64Array(2);
    expect(() => copyNatStateTables(state)).toThrow('state field extra is a BigInt64Array');
  });
});
