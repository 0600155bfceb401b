// RFC 6056 port randomisation inside a subscriber's port block, keeping the source port's parity where
// possible (RFC 4787 REQ-3 / RFC 7857 sec. 6) and skipping ports freed less than 120 s ago (RFC 6888).
// A port is free when no BIB entry holds it (the IPv4 BIB index is the in-use map).

import type { RandomSource } from '../random.js';
import type { NatState } from '../tables/nat-state.js';

/**
 * A free port of `block` for a new mapping, or -1 when the block has none. Starts at a random offset;
 * the first pass takes only ports of `parity` (0 even, 1 odd), the second any port.
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
  const slot = state.blockSlotOf(block);
  const firstPort = state.blockFirstPortOf(block);
  const address = state.blockAddressOf(block);
  const start = random.nextUint32() % size;
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < size; i++) {
      const port = firstPort + ((start + i) % size);
      if (pass === 0 && (port & 1) !== parity) continue;
      if (state.findMapping4(slot, address, port) !== -1) continue;
      if (state.isPortHeld(block, port, nowMs)) continue;
      return port;
    }
  }
  return -1;
}
