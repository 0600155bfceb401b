// The read-only views of a NatState (inspect.ts): the canonical dump line by line (subscribers with their
// per-protocol block counts, blocks with their RFC 6888 port holds, BIB entries, sessions with the TCP
// state names of RFC 6146 sec. 3.5.2 and live or logged expiry), and every pool invariant checkInvariants
// reports when a table is made to break it.
import { describe, expect, it } from 'vitest';
import { checkInvariants, dumpState, NatState, TcpState, validateConfig } from '../src/internal.js';
import { SESSION_WORDS } from '../src/tables/nat-state.js';

// 203.0.113.8-9, 64-port blocks, every protocol 1024-1151: rows tcp 0-3, udp 4-7, icmp 8-11.
const CONFIG = validateConfig({
  pool: ['203.0.113.8/31'],
  blockSizePorts: 64,
  ports: { tcp: [1024, 1151], udp: [1024, 1151], icmp: [1024, 1151] },
  subscribersMax: 4,
  mappingsMax: 8,
  sessionsMax: 8,
  subscriberBlocksMax: 1,
  subscriberSessionsMax: 2,
});
const POOL_8 = 0xcb007108;
const POOL_9 = 0xcb007109;

/**
 * Subscriber 2001:db8:0:100::/56 on .9: a TCP block (row 2) with [::5]:5000 -> :1030 established to
 * 198.51.100.1:80 and port 1031 held since second 3; subscriber 2001:db8:0:200::/56 on .8: a UDP block
 * (row 4) with [::6]:53 -> :1024 and a session to 192.0.2.1:53, and a static ICMP entry.
 */
function build() {
  const state = new NatState(CONFIG, 3, 0);
  const a = state.addSubscriber(0x20010db8, 0x100, 0, 0);
  state.subscriberAddress[a] = 1;
  state.leaseBlock(2, a, 0);
  const tcp = state.addMapping(0, [0x20010db8, 0x100, 0, 5], 5000, POOL_9, 1030, a, 2, 0);
  const held = state.addMapping(0, [0x20010db8, 0x100, 0, 7], 5001, POOL_9, 1031, a, 2, 0);
  state.removeMapping(held, 2500);
  const established = state.addSession(tcp, 0xc6336401, 80, TcpState.Established, 7_200_000, 0);
  state.setSessionExpiresAt(established, 7_300_000);
  const b = state.addSubscriber(0x20010db8, 0x200, 0, 0);
  state.subscriberAddress[b] = 0;
  state.leaseBlock(4, b, 0);
  const udp = state.addMapping(1, [0x20010db8, 0x200, 0, 6], 53, POOL_8, 1024, b, 4, 0);
  state.addSession(udp, 0xc0000201, 53, 0, 300_000, 0);
  state.addMapping(2, [0x20010db8, 0x200, 0, 6], 9, POOL_8, 9, b, -1, 0);
  return { state, a, b, tcp, udp, established };
}

describe('dumpState', () => {
  it('proves every entry is dumped in its canonical line, sorted, with live expiry unless logged is asked', () => {
    const { state } = build();
    const live = {
      subscribers: [
        '2001:db8:0:100:0:0:0:0/56 address#1 blocks 1/0/0 mappings 1 sessions 1',
        '2001:db8:0:200:0:0:0:0/56 address#0 blocks 0/1/0 mappings 2 sessions 1',
      ],
      blocks: [
        'tcp 203.0.113.9:1024+64 owner 2001:db8:0:100:0:0:0:0/56 inUse 1 idleSince -1 freed [1031@3]',
        'udp 203.0.113.8:1024+64 owner 2001:db8:0:200:0:0:0:0/56 inUse 1 idleSince -1 freed []',
      ],
      mappings: [
        'icmp [2001:db8:0:200:0:0:0:6]:9 203.0.113.8:9 static sessions 0',
        'tcp [2001:db8:0:100:0:0:0:5]:5000 203.0.113.9:1030 sessions 1',
        'udp [2001:db8:0:200:0:0:0:6]:53 203.0.113.8:1024 sessions 1',
      ],
      sessions: [
        'tcp 203.0.113.9:1030 -> 198.51.100.1:80 ESTABLISHED expires 7300000',
        'udp 203.0.113.8:1024 -> 192.0.2.1:53 expires 300000',
      ],
    };
    expect(dumpState(state)).toEqual(live);
    expect(dumpState(state, { expiry: 'live' })).toEqual(live);
    expect(dumpState(state, { expiry: 'logged' })).toEqual({
      ...live,
      sessions: [
        'tcp 203.0.113.9:1030 -> 198.51.100.1:80 ESTABLISHED expires 7200000',
        'udp 203.0.113.8:1024 -> 192.0.2.1:53 expires 300000',
      ],
    });
    expect(checkInvariants(state)).toEqual([]);
  });

  it('proves blocks are sorted by their text, not by row (ICMP rows come after TCP ones)', () => {
    const state = new NatState(CONFIG, 3, 0);
    const s = state.addSubscriber(0x20010db8, 0x100, 0, 0);
    state.subscriberAddress[s] = 1;
    state.leaseBlock(2, s, 0);
    state.leaseBlock(10, s, 0);
    expect(dumpState(state).blocks).toEqual([
      'icmp 203.0.113.9:1024+64 owner 2001:db8:0:100:0:0:0:0/56 inUse 0 idleSince 0 freed []',
      'tcp 203.0.113.9:1024+64 owner 2001:db8:0:100:0:0:0:0/56 inUse 0 idleSince 0 freed []',
    ]);
  });

  it('proves an idle block shows since when, and several held ports in port order', () => {
    const state = new NatState(CONFIG, 3, 0);
    const s = state.addSubscriber(0x20010db8, 0x100, 0, 0);
    state.subscriberAddress[s] = 1;
    state.leaseBlock(7, s, 0);
    const x = state.addMapping(1, [1, 2, 3, 4], 1, POOL_9, 1090, s, 7, 0);
    const y = state.addMapping(1, [1, 2, 3, 5], 1, POOL_9, 1151, s, 7, 0);
    state.removeMapping(y, 9_000);
    state.removeMapping(x, 12_500);
    expect(dumpState(state).blocks).toEqual([
      'udp 203.0.113.9:1088+64 owner 2001:db8:0:100:0:0:0:0/56 inUse 0 idleSince 12500 freed [1090@13 1151@10]',
    ]);
  });
});

describe('checkInvariants', () => {
  it('proves a session on a free BIB row is reported', () => {
    const { state, udp } = build();
    const s = state.mappingFirstSession[udp];
    state.sessionRecord[s * SESSION_WORDS] = 7;
    expect(checkInvariants(state)).toContain(`session ${s} on a free mapping 7`);
  });

  it('proves two BIB entries on one IPv4 transport address are reported', () => {
    const { state, b } = build();
    state.addMapping(2, [0x20010db8, 0x200, 0, 9], 9, POOL_8, 9, b, -1, 0);
    expect(checkInvariants(state)).toEqual([`two mappings share 2 ${POOL_8}:9`]);
  });

  it("proves an entry off its subscriber's address and one in another subscriber's block are reported", () => {
    const { state, b, tcp } = build();
    state.addMapping(2, [0x20010db8, 0x200, 0, 9], 9, POOL_9, 9, b, -1, 0);
    expect(checkInvariants(state)).toEqual([`mapping 2 ${POOL_9}:9 is not on its subscriber's address`]);
    const other = build();
    other.state.blockOwner[2] = other.b;
    expect(checkInvariants(other.state)).toContain(
      `mapping 0 ${POOL_9}:1030 is in a block of another subscriber`,
    );
    void tcp;
  });

  it('proves wrong session and mapping counts, and a dynamic entry without sessions, are reported', () => {
    const { state, a, b, tcp, udp } = build();
    state.mappingSessionCount[tcp] = 2;
    expect(checkInvariants(state)).toEqual([`mapping 0 ${POOL_9}:1030 session count`]);
    state.mappingSessionCount[tcp] = 1;
    state.removeSession(state.mappingFirstSession[udp]);
    expect(checkInvariants(state)).toEqual([`dynamic mapping 1 ${POOL_8}:1024 has no session`]);
    const again = build();
    again.state.subscriberMappingCount[again.a] = 3;
    expect(checkInvariants(again.state)).toEqual([`subscriber ${again.a} mapping count`]);
    void a;
    void b;
  });

  it('proves a subscriber over its session or block limit is reported, and at the limit is not', () => {
    const { state, a, tcp } = build();
    state.addSession(tcp, 0xc6336402, 80, TcpState.Established, 7_200_000, 0);
    expect(checkInvariants(state)).toEqual([]);
    state.addSession(tcp, 0xc6336403, 80, TcpState.Established, 7_200_000, 0);
    expect(checkInvariants(state)).toEqual([`subscriber ${a} over its session limit`]);
    const blocks = build();
    blocks.state.leaseBlock(3, blocks.a, 0);
    expect(checkInvariants(blocks.state)).toEqual([`subscriber ${blocks.a} over its block limit`]);
  });

  it("proves blocks on another address, owned by another subscriber, or miscounted on a subscriber's list are reported", () => {
    const { state, a, b } = build();
    state.leaseBlock(8, a, 0); // icmp, address 0: the subscriber is on address 1
    expect(checkInvariants(state)).toEqual([`subscriber ${a} has a block on another address`]);
    const owner = build();
    owner.state.blockOwner[4] = owner.a;
    expect(checkInvariants(owner.state)).toContain(
      `block 4 on the list of subscriber ${owner.b} is not owned by it`,
    );
    const count = build();
    count.state.subscriberBlockCount[count.b * 3 + 1] = 2;
    expect(checkInvariants(count.state)).toEqual([`subscriber ${count.b} block count`]);
    void b;
  });
});
