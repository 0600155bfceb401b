// RFC 6056 port randomisation inside a subscriber's port block, keeping the source port's parity where
// possible (RFC 4787 REQ-3 / RFC 7857 sec. 6) and skipping ports freed less than 120 s ago (RFC 6888).

import type { RandomSource } from '../random.js';
import { type NatState, PORT_IN_USE } from '../tables/nat-state.js';

/**
 * A free port of `block` for a new mapping, or -1 when the block has none. Starts at a random offset;
 * the first pass takes only ports of `parity` (0 even, 1 odd), the second any port. A port is free when
 * it is not mapped and its hold-down is over (the slab row of the block says both).
 */
export function findFreePort(
  state: NatState,
  block: number,
  parity: number,
  nowMs: number,
  random: RandomSource,
): number {
  const size = state.config.blockSizePorts;
  if (state.blockInUse[block] >= size) return -1;
  const firstPort = state.blockFirstPortOf(block);
  const slab = state.slabFreedAtS;
  const base = state.blockSlab[block] * size;
  // A port freed at second f (stored f + 1) is usable again from (f + 1) * 1000 + hold ms.
  const usableBeforeS = (nowMs - state.config.portReuseHoldMs) / 1000;
  const start = random.nextUint32() % size;
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < size; i++) {
      let offset = start + i;
      if (offset >= size) offset -= size;
      const port = firstPort + offset;
      if (pass === 0 && (port & 1) !== parity) continue;
      const freedAtS = slab[base + offset];
      if (freedAtS === PORT_IN_USE || (freedAtS !== 0 && freedAtS > usableBeforeS)) continue;
      return port;
    }
  }
  return -1;
}
