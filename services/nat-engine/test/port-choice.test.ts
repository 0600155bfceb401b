// Proves RFC 6056 port choice inside one leased block (pool4/rfc6056.ts) port by port: the search starts
// at the random offset and wraps, takes the source port's parity first (RFC 4787 REQ-3) and the other
// parity only when none is left, answers -1 for a full block, and keeps a freed port for the RFC 6888
// hold: freed at second f, usable from (f + 1) s + 120 s, not a millisecond before. Ports are worked
// out by hand for a 4-port block 1024-1027.
import { describe, expect, it } from 'vitest';
import { findFreePort, NatState, ProtocolSlot, type RandomSource, validateConfig } from '../src/internal.js';

/** A random source that returns the given values in turn. */
function fixed(...values: number[]): RandomSource {
  let i = 0;
  return { nextUint32: () => values[i++ % values.length] };
}

function blockOf4Ports(): { state: NatState; block: number; subscriber: number } {
  const config = validateConfig({ pool: ['203.0.113.1'], blockSizePorts: 4, ports: { udp: [1024, 1027] } });
  const state = new NatState(config, 1, 0);
  const subscriber = state.addSubscriber(0x20010db8, 0, 0, 0);
  const block = state.blockIndexOf(ProtocolSlot.Udp, 0, 0);
  state.leaseBlock(block, subscriber, 0);
  return { state, block, subscriber };
}

const V6 = [0x20010db8, 0, 0, 1];
// The mapping's IPv4 address: the pool's one address, 203.0.113.1.
const POOL_ADDRESS = 0xcb007101;

describe('RFC 6056 port choice in a block', () => {
  it('starts at the random offset, wraps round the block and keeps the parity', () => {
    const { state, block } = blockOf4Ports();
    // Offsets 0..3 are ports 1024..1027.
    expect(findFreePort(state, block, 0, 0, fixed(0))).toBe(1024);
    expect(findFreePort(state, block, 1, 0, fixed(0))).toBe(1025);
    expect(findFreePort(state, block, 0, 0, fixed(2))).toBe(1026);
    expect(findFreePort(state, block, 1, 0, fixed(2))).toBe(1027);
    // Start at offset 3 (1027, odd): an even port wraps round to 1024.
    expect(findFreePort(state, block, 0, 0, fixed(3))).toBe(1024);
    expect(findFreePort(state, block, 1, 0, fixed(3))).toBe(1027);
    // The offset is the random value modulo the block size: 4n + 1 starts at 1025.
    expect(findFreePort(state, block, 1, 0, fixed(4 * 1000 + 1))).toBe(1025);
    expect(findFreePort(state, block, 0, 0, fixed(4 * 1000 + 1))).toBe(1026);
  });

  it('takes a port of the other parity only when the parity has none left, and -1 when the block is full', () => {
    const { state, block, subscriber } = blockOf4Ports();
    state.addMapping(ProtocolSlot.Udp, V6, 5000, POOL_ADDRESS, 1024, subscriber, block, 0);
    state.addMapping(ProtocolSlot.Udp, V6, 5002, POOL_ADDRESS, 1026, subscriber, block, 0);
    expect(findFreePort(state, block, 0, 0, fixed(0))).toBe(1025);
    expect(findFreePort(state, block, 0, 0, fixed(2))).toBe(1027);
    expect(findFreePort(state, block, 1, 0, fixed(2))).toBe(1027);
    state.addMapping(ProtocolSlot.Udp, V6, 5001, POOL_ADDRESS, 1025, subscriber, block, 0);
    expect(findFreePort(state, block, 1, 0, fixed(0))).toBe(1027);
    state.addMapping(ProtocolSlot.Udp, V6, 5003, POOL_ADDRESS, 1027, subscriber, block, 0);
    for (const start of [0, 1, 2, 3]) expect(findFreePort(state, block, start & 1, 0, fixed(start))).toBe(-1);
  });

  it('holds a port freed at 10.5 s until 131 s: second 10 is stored as 11, plus 120 s', () => {
    const { state, block, subscriber } = blockOf4Ports();
    const m = state.addMapping(ProtocolSlot.Udp, V6, 5000, POOL_ADDRESS, 1024, subscriber, block, 0);
    for (const port of [1025, 1026, 1027])
      state.addMapping(ProtocolSlot.Udp, V6, port + 4000, POOL_ADDRESS, port, subscriber, block, 0);
    state.removeMapping(m, 10_500);
    for (const parity of [0, 1]) {
      expect(findFreePort(state, block, parity, 130_999, fixed(0))).toBe(-1);
      expect(findFreePort(state, block, parity, 131_000, fixed(1))).toBe(1024);
    }
    expect(state.isPortTaken(block, 1024, 130_999)).toBe(true);
    expect(state.isPortTaken(block, 1024, 131_000)).toBe(false);
  });
});
