// NatState's hot-path lookups compare every word of the key, not only the hash: for each key field, a key
// that differs from a present entry in that field alone but lands on the same index slot with the same
// hash tag (found by search) is not found, while the entry itself is. Otherwise two flows whose hashes
// collide would share a BIB entry or session (RFC 6146 sec. 3.1: one entry per transport address).
import { describe, expect, it } from 'vitest';
import { NatState, validateConfig } from '../src/internal.js';
import { INDEX_TAG, indexSizeFor } from '../src/tables/hash.js';

const CONFIG = validateConfig({
  pool: ['203.0.113.8/31'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 1151], udp: [1024, 1151], icmp: [1024, 1151] },
  subscribersMax: 4,
  mappingsMax: 8,
  sessionsMax: 8,
  leasedBlocksMax: 4,
});
const POOL_9 = 0xcb007109;
const REMOTE = 0xc6336401;
// Words with the top bit set: the int32 and uint32 forms of these differ.
const V6 = [0xfe800db8, 0x80000100, 0x00ff0000, 0x80000005];

/** The first z in [0, limit) for which the two keys' hashes share the index slot (under `mask`) and tag. */
function colliding(hashes: (z: number) => [number, number], mask: number, limit = 1 << 22): number {
  for (let z = 0; z < limit; z++) {
    const [h1, h2] = hashes(z);
    if (((h1 ^ h2) & (INDEX_TAG | mask)) === 0) return z;
  }
  throw new Error('no colliding key found');
}

function fresh(): NatState {
  return new NatState(CONFIG, 0x5eed, 0);
}

describe('subscriber lookup', () => {
  it('proves each of the four prefix words is compared', () => {
    for (let word = 0; word < 4; word++) {
      const state = fresh();
      expect(indexSizeFor(CONFIG.subscribersMax)).toBe(16);
      const key = (z: number, differ: boolean): [number, number, number, number] => {
        const k: [number, number, number, number] = [0x20010db8, 0x100, 0, 0];
        k[(word + 1) % 4] = z;
        if (differ) k[word] ^= 0x40;
        return k;
      };
      const z = colliding(
        (x) => [state.hashSubscriber(...key(x, false)), state.hashSubscriber(...key(x, true))],
        15,
      );
      const s = state.addSubscriber(...key(z, false));
      expect(state.findSubscriber(...key(z, false))).toBe(s);
      expect(state.findSubscriber(...key(z, true))).toBe(-1);
    }
  });
});

// Every index here has 16 slots (a paired one 16 pairs): mask 15.
describe('BIB lookups', () => {
  it('proves the IPv6 side compares every address word, the port and the protocol', () => {
    // Field 0-3: an address word; 4: the port; 5: the protocol slot.
    for (let field = 0; field < 6; field++) {
      const state = fresh();
      const key = (z: number, differ: boolean) => {
        const v6 = [...V6];
        let port = 5000;
        let slot = 1;
        if (field === 4) v6[0] = z;
        else port = z;
        if (field < 4 && differ) v6[field] = (v6[field] ^ 0x01000000) >>> 0;
        if (field === 4 && differ) port = 5001;
        if (field === 5 && differ) slot = 2;
        return { slot, v6, port };
      };
      const hash = (k: ReturnType<typeof key>) =>
        state.hashMapping6(k.slot, k.v6[0], k.v6[1], k.v6[2], k.v6[3], k.port);
      const z = colliding(
        (x) => [hash(key(x, false)), hash(key(x, true))],
        15,
        field === 4 ? 1 << 22 : 65536,
      );
      const present = key(z, false);
      const absent = key(z, true);
      const s = state.addSubscriber(0, 0, 0, 0);
      const m = state.addMapping(present.slot, present.v6, present.port, POOL_9, 7, s, -1, 0);
      // The key sits at an offset in a larger array, as in a flow key.
      const at = (v6: number[]) => Uint32Array.from([9, 9, 9, ...v6]);
      expect(state.findMapping6(present.slot, at(present.v6), 3, present.port)).toBe(m);
      expect(state.findMapping6(absent.slot, at(absent.v6), 3, absent.port)).toBe(-1);
    }
  });

  it('proves the IPv4 side compares the address, the port and the protocol', () => {
    for (let field = 0; field < 3; field++) {
      const state = fresh();
      const key = (z: number, differ: boolean) => {
        let address = POOL_9;
        let port = 1030;
        let slot = 0;
        if (field === 0) port = z;
        else address = (0xcb000000 + z) >>> 0;
        if (field === 0 && differ) address = 0xcb007108;
        if (field === 1 && differ) port = 1031;
        if (field === 2 && differ) slot = 1;
        return { slot, address, port };
      };
      const hash = (k: ReturnType<typeof key>) => state.hashMapping4(k.slot, k.address, k.port);
      const z = colliding(
        (x) => [hash(key(x, false)), hash(key(x, true))],
        15,
        field === 0 ? 65536 : 1 << 22,
      );
      const present = key(z, false);
      const absent = key(z, true);
      const s = state.addSubscriber(0, 0, 0, 0);
      const m = state.addMapping(present.slot, V6, 5000, present.address, present.port, s, -1, 0);
      expect(state.findMapping4(present.slot, present.address, present.port)).toBe(m);
      expect(state.findMapping4(absent.slot, absent.address, absent.port)).toBe(-1);
    }
  });
});

describe('session lookups', () => {
  it('proves the IPv6 side compares the remote address and port, every address word, the port and the protocol', () => {
    // 0: remote; 1: remote port; 2-5: address word; 6: port; 7: protocol.
    for (let field = 0; field < 8; field++) {
      const state = fresh();
      const key = (z: number, differ: boolean) => {
        const v6 = [...V6];
        let port = 5000;
        let slot = 1;
        let remote = REMOTE;
        let remotePort = 53;
        if (field === 1) remote = (0x0a000000 + z) >>> 0;
        else remotePort = z;
        if (field === 0 && differ) remote = 0xc6336402;
        if (field === 1 && differ) remotePort = 54;
        if (field >= 2 && field <= 5 && differ) v6[field - 2] = (v6[field - 2] ^ 0x80) >>> 0;
        if (field === 6 && differ) port = 5001;
        if (field === 7 && differ) slot = 2;
        return { slot, v6, port, remote, remotePort };
      };
      const hash = (k: ReturnType<typeof key>) =>
        state.hashSession6(
          k.slot,
          k.v6[0] | 0,
          k.v6[1] | 0,
          k.v6[2] | 0,
          k.v6[3] | 0,
          k.port,
          k.remote,
          k.remotePort,
        );
      const z = colliding(
        (x) => [hash(key(x, false)), hash(key(x, true))],
        15,
        field === 1 ? 1 << 22 : 65536,
      );
      const present = key(z, false);
      const absent = key(z, true);
      const s = state.addSubscriber(0, 0, 0, 0);
      const m = state.addMapping(present.slot, present.v6, present.port, POOL_9, 7, s, -1, 0);
      const x = state.addSession(m, present.remote, present.remotePort, 0, 100_000, 0);
      const at = (v6: number[]) => Uint32Array.from([1, ...v6]);
      expect(
        state.findSession6(present.slot, at(present.v6), 1, present.port, present.remote, present.remotePort),
      ).toBe(x);
      expect(
        state.findSession6(absent.slot, at(absent.v6), 1, absent.port, absent.remote, absent.remotePort),
      ).toBe(-1);
    }
  });

  it('proves the IPv4 side compares the remote address and port, the pool address and port and the protocol', () => {
    // 0: remote; 1: remote port; 2: pool address; 3: pool port; 4: protocol.
    for (let field = 0; field < 5; field++) {
      const state = fresh();
      const key = (z: number, differ: boolean) => {
        let address = POOL_9;
        let port = 1030;
        let slot = 0;
        let remote = REMOTE;
        let remotePort = 53;
        if (field === 1) remote = (0x0a000000 + z) >>> 0;
        else remotePort = z;
        if (field === 0 && differ) remote = 0xc6336402;
        if (field === 1 && differ) remotePort = 54;
        if (field === 2 && differ) address = 0xcb007108;
        if (field === 3 && differ) port = 1031;
        if (field === 4 && differ) slot = 1;
        return { slot, address, port, remote, remotePort };
      };
      const hash = (k: ReturnType<typeof key>) =>
        state.hashSession4(k.slot, k.address, k.port, k.remote, k.remotePort);
      const z = colliding(
        (x) => [hash(key(x, false)), hash(key(x, true))],
        15,
        field === 1 ? 1 << 22 : 65536,
      );
      const present = key(z, false);
      const absent = key(z, true);
      const s = state.addSubscriber(0, 0, 0, 0);
      const m = state.addMapping(present.slot, V6, 5000, present.address, present.port, s, -1, 0);
      const x = state.addSession(m, present.remote, present.remotePort, 0, 100_000, 0);
      expect(
        state.findSession4(present.slot, present.address, present.port, present.remote, present.remotePort),
      ).toBe(x);
      expect(
        state.findSession4(absent.slot, absent.address, absent.port, absent.remote, absent.remotePort),
      ).toBe(-1);
      expect(state.findSession(m, present.remote, present.remotePort)).toBe(x);
    }
  });

  it('proves lookups walk past other entries of a probe cluster to the one asked for', () => {
    const state = fresh();
    const s = state.addSubscriber(0, 0, 0, 0);
    const m = state.addMapping(1, V6, 5000, POOL_9, 7, s, -1, 0);
    // Eight sessions in a 16-slot index: clusters form; each is found through its own key on both sides.
    const rows = Array.from({ length: 8 }, (_, i) =>
      state.addSession(m, REMOTE + i * 7919, 53 + i, 0, 100_000, 0),
    );
    rows.forEach((x, i) => {
      expect(state.findSession4(1, POOL_9, 7, REMOTE + i * 7919, 53 + i)).toBe(x);
      expect(state.findSession6(1, Uint32Array.from(V6), 0, 5000, REMOTE + i * 7919, 53 + i)).toBe(x);
    });
    // Removing entries shifts the clusters back; the rest stay reachable.
    for (const i of [0, 3, 6]) state.removeSession(rows[i]);
    rows.forEach((x, i) => {
      const expected = [0, 3, 6].includes(i) ? -1 : x;
      expect(state.findSession4(1, POOL_9, 7, REMOTE + i * 7919, 53 + i)).toBe(expected);
      expect(state.findSession6(1, Uint32Array.from(V6), 0, 5000, REMOTE + i * 7919, 53 + i)).toBe(expected);
    });
  });
});

/** The first z whose hash has `home`'s slot, with the same tag or another one. */
function atHome(hashOf: (z: number) => number, home: number, sameTag: boolean, from = 1): number {
  for (let z = from; z < 1 << 22; z++) {
    const h = hashOf(z);
    if (((h ^ home) & 15) === 0 && (((h ^ home) & INDEX_TAG) === 0) === sameTag) return z;
  }
  throw new Error('no key found');
}

describe('displaced entries', () => {
  it('proves every lookup walks past entries at its home slot, of another tag or the same, to its own', () => {
    const state = fresh();
    // Subscribers keyed by their second word.
    const sub = (z: number) => state.hashSubscriber(0x20010db8, z, 0, 0);
    const subs = [0, atHome(sub, sub(0), false), atHome(sub, sub(0), true)];
    const rows = subs.map((z) => state.addSubscriber(0x20010db8, z, 0, 0));
    for (const [i, z] of subs.entries()) expect(state.findSubscriber(0x20010db8, z, 0, 0)).toBe(rows[i]);

    // BIB entries keyed by their IPv6 port (IPv6 side) and their IPv4 port (IPv4 side).
    const m6 = (z: number) => state.hashMapping6(1, V6[0], V6[1], V6[2], V6[3], z);
    const m4 = (z: number) => state.hashMapping4(1, POOL_9, z);
    const ports6 = [1, atHome(m6, m6(1), false, 2), atHome(m6, m6(1), true, 2)];
    const ports4 = [1, atHome(m4, m4(1), false, 2), atHome(m4, m4(1), true, 2)];
    const maps = [0, 1, 2].map((i) => state.addMapping(1, V6, ports6[i], POOL_9, ports4[i], rows[0], -1, 0));
    expect(Math.max(...ports6, ...ports4)).toBeLessThan(65536);
    for (let i = 0; i < 3; i++) {
      expect(state.findMapping6(1, Uint32Array.from(V6), 0, ports6[i])).toBe(maps[i]);
      expect(state.findMapping4(1, POOL_9, ports4[i])).toBe(maps[i]);
    }

    // Sessions of the first entry keyed by their remote address.
    const m = maps[0];
    const s6 = (z: number) => state.hashSession6(1, V6[0] | 0, V6[1] | 0, V6[2] | 0, V6[3] | 0, 1, z, 53);
    const remotes6 = [1, atHome(s6, s6(1), false, 2), atHome(s6, s6(1), true, 2)];
    const x6 = remotes6.map((r) => state.addSession(m, r, 53, 0, 100_000, 0));
    for (const [i, r] of remotes6.entries())
      expect(state.findSession6(1, Uint32Array.from(V6), 0, 1, r, 53)).toBe(x6[i]);
    const s4 = (z: number) => state.hashSession4(1, POOL_9, 1, z, 80);
    const remotes4 = [1, atHome(s4, s4(1), false, 2), atHome(s4, s4(1), true, 2)];
    const x4 = remotes4.map((r) => state.addSession(m, r, 80, 0, 100_000, 0));
    for (const [i, r] of remotes4.entries()) expect(state.findSession4(1, POOL_9, 1, r, 80)).toBe(x4[i]);
  });
});
