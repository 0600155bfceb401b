// Proves validateConfig's contract field by field (config.ts header, README configuration): every
// default, both ends of every accepted range, each refusal naming its field, what is wrong and the fix,
// the pool sorted into address indexes both ways, the subscriber key masks, static BIB entries and the
// deterministic prefix. Every expected number is worked out by hand in the comment next to it.
import { describe, expect, it } from 'vitest';
import { addressAt } from '../src/config.js';
import {
  addressIndexIn,
  formatIpv4,
  NatConfigError,
  type NatEngineConfigInput,
  parseIpv4,
  SubscriberLengths,
  subscriberPrefixOf,
  validateConfig,
} from '../src/internal.js';

const POOL = ['203.0.113.0/30'];

function refusal(input: Partial<NatEngineConfigInput> | null): NatConfigError {
  try {
    validateConfig(input === null ? (null as never) : ({ pool: POOL, ...input } as NatEngineConfigInput));
  } catch (error) {
    expect(error).toBeInstanceOf(NatConfigError);
    return error as NatConfigError;
  }
  throw new Error(`configuration was accepted: ${JSON.stringify(input)}`);
}

describe('configuration contract', () => {
  it('fills every default from the RFC minimums and the README', () => {
    const c = validateConfig({ pool: POOL });
    expect(c.blockSizePorts).toBe(512);
    // 1024-65535 is 64,512 ports: 126 blocks of 512 per address, for each protocol.
    expect(c.protocols).toEqual(
      [0, 1, 2].map(() => ({ portFirst: 1024, portLast: 65535, blocksPerAddress: 126 })),
    );
    expect(c.totalBlocks).toBe(3 * 126 * 4);
    expect(c.subscriberPrefixLength).toBe(56);
    expect(Array.from(c.subscriberMask)).toEqual([0xffffffff, 0xffffff00, 0, 0]);
    expect(c.subscriberBlocksMax).toBe(4);
    expect(c.subscriberSessionsMax).toBe(8192);
    expect(c.addressDependentFiltering).toBe(false);
    expect(c.dropExternallyInitiatedTcp).toBe(false);
    expect(c.udpTimeoutMs).toBe(5 * 60_000);
    expect(c.tcpEstablishedTimeoutMs).toBe((2 * 60 + 4) * 60_000);
    expect(c.tcpTransitoryTimeoutMs).toBe(4 * 60_000);
    expect(c.icmpTimeoutMs).toBe(60_000);
    expect(c.tcpIncomingSynHoldMs).toBe(6000);
    expect(c.portReuseHoldMs).toBe(120_000);
    expect(c.blockIdleTimeoutMs).toBe(120_000);
    // min(20 s, half the shortest timeout: ICMP's 60 s / 2 = 30 s).
    expect(c.refreshLeadMs).toBe(20_000);
    expect(c.sessionsMax).toBe(262_144);
    expect(c.mappingsMax).toBe(262_144);
    // Every subscriber holds a block: 126 blocks x 4 addresses of the largest protocol.
    expect(c.subscribersMax).toBe(504);
    // Every block of the pool (1,512) is under the slab budget (2^24 / 512 = 32,768).
    expect(c.leasedBlocksMax).toBe(1512);
    expect(c.heldSynsMax).toBe(4096);
    expect(c.staticBib).toEqual([]);
    expect(c.deterministic).toBeNull();
  });

  it('takes the settings given and derives mappingsMax and blockIdleTimeoutMs from them', () => {
    const c = validateConfig({
      pool: POOL,
      filtering: 'address-dependent',
      dropExternallyInitiatedTcp: true,
      sessionsMax: 1000,
      portReuseHoldMs: 200_000,
    });
    expect(c.addressDependentFiltering).toBe(true);
    expect(c.dropExternallyInitiatedTcp).toBe(true);
    expect(c.mappingsMax).toBe(1000);
    expect(c.blockIdleTimeoutMs).toBe(200_000);
    expect(validateConfig({ pool: POOL, filtering: 'endpoint-independent' }).addressDependentFiltering).toBe(
      false,
    );
    // Only `true` turns the policy on.
    expect(
      validateConfig({ pool: POOL, dropExternallyInitiatedTcp: 1 as never }).dropExternallyInitiatedTcp,
    ).toBe(false);
  });

  it('sorts the pool into address indexes and finds each address from its index and back, gaps excluded', () => {
    const c = validateConfig({ pool: ['203.0.113.8/30', '198.51.100.1', '192.0.2.0/31'] });
    const expected = [
      '192.0.2.0',
      '192.0.2.1',
      '198.51.100.1',
      '203.0.113.8',
      '203.0.113.9',
      '203.0.113.10',
      '203.0.113.11',
    ];
    expect(c.poolAddressCount).toBe(7);
    expect(Array.from(c.rangeBase)).toEqual([0, 2, 3]);
    expect(expected.map((_, i) => formatIpv4(addressAt(c, i)))).toEqual(expected);
    expect(expected.map((a) => addressIndexIn(c.rangeFirst, c.rangeLast, c.rangeBase, parseIpv4(a)))).toEqual(
      [0, 1, 2, 3, 4, 5, 6],
    );
    for (const outside of [
      '0.0.0.0',
      '192.0.2.2',
      '198.51.100.0',
      '198.51.100.2',
      '203.0.113.7',
      '203.0.113.12',
      '255.255.255.255',
    ]) {
      expect(addressIndexIn(c.rangeFirst, c.rangeLast, c.rangeBase, parseIpv4(outside)), outside).toBe(-1);
    }
  });

  it('accepts adjacent pool entries and refuses two sharing one address, naming the later entry and the earlier one', () => {
    expect(validateConfig({ pool: ['203.0.113.0/25', '203.0.113.128/25'] }).poolAddressCount).toBe(256);
    const e = refusal({ pool: ['203.0.113.10-203.0.113.20', '198.51.100.1', '203.0.113.0-203.0.113.10'] });
    expect(e.field).toBe('pool[2]');
    expect(e.message).toBe(
      "pool[2]: '203.0.113.0-203.0.113.10' overlaps pool[0] '203.0.113.10-203.0.113.20'; remove the overlap so every pool address is listed once",
    );
  });

  it('refuses a missing configuration or pool, naming what to write', () => {
    expect(refusal(null).message).toBe('config: expected an object; pass at least { pool: [...] }');
    expect(() => validateConfig('203.0.113.0/24' as never)).toThrow(
      'config: expected an object; pass at least { pool: [...] }',
    );
    expect(refusal({ pool: '203.0.113.0/24' as never }).message).toBe(
      "pool: no IPv4 pool given; list at least one prefix, e.g. pool: ['203.0.113.0/24']",
    );
  });

  it('accepts block sizes 1 and 65,536 and refuses 0, 65,537 and fractions, naming the fix', () => {
    const full = { tcp: [0, 65535], udp: [0, 65535], icmp: [0, 65535] } as const;
    expect(
      validateConfig({ pool: ['203.0.113.1'], ports: full, blockSizePorts: 65536 }).protocols[0]
        .blocksPerAddress,
    ).toBe(1);
    expect(validateConfig({ pool: ['203.0.113.1'], blockSizePorts: 1 }).protocols[1].blocksPerAddress).toBe(
      64_512,
    );
    expect(refusal({ blockSizePorts: 0 }).message).toBe(
      'blockSizePorts: 0 is outside 1..65536; choose a block size that divides every port range, e.g. 512 for 1024-65535',
    );
    expect(refusal({ ports: full, blockSizePorts: 65537 }).field).toBe('blockSizePorts');
    expect(refusal({ blockSizePorts: 1.5 }).message).toBe(
      'blockSizePorts: expected an integer, got 1.5; choose a block size that divides every port range, e.g. 512 for 1024-65535',
    );
    expect(refusal({ blockSizePorts: '512' as never }).message).toMatch(
      /^blockSizePorts: expected an integer, got "512";/,
    );
    expect(refusal({ filtering: 'port-dependent' as never }).message).toBe(
      `filtering: unknown behaviour "port-dependent"; use 'endpoint-independent' or 'address-dependent'`,
    );
    expect(refusal({ blockSizePorts: 1000 }).message).toBe(
      'blockSizePorts: 1000 does not divide the tcp range 1024-65535 (64512 ports); choose a block size that divides every port range, or adjust the range',
    );
  });

  it('takes per-protocol port ranges, one port long included, and refuses malformed ones naming the protocol', () => {
    const c = validateConfig({ pool: POOL, blockSizePorts: 1, ports: { udp: [5000, 5000], icmp: [0, 9] } });
    expect(c.protocols).toEqual([
      { portFirst: 1024, portLast: 65535, blocksPerAddress: 64_512 },
      { portFirst: 5000, portLast: 5000, blocksPerAddress: 1 },
      { portFirst: 0, portLast: 9, blocksPerAddress: 10 },
    ]);
    // (64,512 + 1 + 10) blocks x 4 addresses.
    expect(c.totalBlocks).toBe(258_092);
    expect(refusal({ ports: { udp: [1024] as never } }).message).toBe(
      'ports.udp: expected [first, last]; write e.g. [1024, 65535]',
    );
    expect(refusal({ ports: { udp: [1, 2, 3] as never } }).field).toBe('ports.udp');
    expect(refusal({ ports: { icmp: 'all' as never } }).field).toBe('ports.icmp');
    expect(refusal({ ports: { tcp: [-1, 65535] } }).message).toBe(
      'ports.tcp[0]: -1 is outside 0..65535; ports are 0..65535',
    );
    expect(refusal({ ports: { tcp: [1024, 65536] } }).message).toBe(
      'ports.tcp[1]: 65536 is outside 0..65535; ports are 0..65535',
    );
    expect(refusal({ ports: { udp: [2000, 1999] } }).message).toBe(
      'ports.udp: 1999 < 2000; write [first, last]',
    );
  });

  it('accepts exactly 2^22 blocks and refuses one more', () => {
    // 64 addresses x (32,768 + 16,384 + 16,384) one-port blocks = 64 x 65,536 = 4,194,304.
    const ports = { tcp: [0, 32767], udp: [0, 16383], icmp: [0, 16383] } as const;
    expect(validateConfig({ pool: ['203.0.113.0/26'], blockSizePorts: 1, ports }).totalBlocks).toBe(
      4_194_304,
    );
    const e = refusal({ pool: ['203.0.113.0/26'], blockSizePorts: 1, ports: { ...ports, icmp: [0, 16384] } });
    expect(e.message).toBe(
      'blockSizePorts: the pool makes 4194368 blocks, more than 4194304; use larger blocks or a smaller pool per engine',
    );
  });

  it('accepts subscriber prefix lengths 32 to 128 and masks the subscriber key to them', () => {
    expect(Array.from(validateConfig({ pool: POOL, subscriberPrefixLength: 32 }).subscriberMask)).toEqual([
      0xffffffff, 0, 0, 0,
    ]);
    expect(Array.from(validateConfig({ pool: POOL, subscriberPrefixLength: 128 }).subscriberMask)).toEqual([
      0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
    ]);
    expect(refusal({ subscriberPrefixLength: 31 }).message).toBe(
      'subscriberPrefixLength: 31 is outside 32..128; use the length delegated to one subscriber, e.g. 56',
    );
    const c = validateConfig({ pool: POOL, subscriberPrefixLength: 60 });
    const out = new Uint32Array(4);
    subscriberPrefixOf(c, [0x20010db8, 0x12345678, 0x9abcdef0, 0x11111111], out);
    expect(Array.from(out)).toEqual([0x20010db8, 0x12345670, 0, 0]);
  });

  it("keys a subscriber by its tenant's prefix length where the rules give one, else by subscriberPrefixLength", () => {
    const c = validateConfig({ pool: POOL });
    // Entry 0 (2001:db8::/32) delegates /48s, entry 1 (2001:db9::/32) has length 0 (the node's /56).
    const table = {
      lookupWords: (w0: number) =>
        w0 === 0x20010db8 ? 0 : w0 === 0x20010db9 ? 1 : w0 === 0x20010dba ? 2 : -1,
    };
    c.subscriberLengths.set(table, new Uint8Array([48, 0]));
    const out = new Uint32Array(4);
    subscriberPrefixOf(c, [0x20010db8, 0xabcdef12, 1, 2], out);
    expect(Array.from(out)).toEqual([0x20010db8, 0xabcd0000, 0, 0]);
    subscriberPrefixOf(c, [0x20010db9, 0xabcdef12, 1, 2], out);
    expect(Array.from(out)).toEqual([0x20010db9, 0xabcdef00, 0, 0]);
    // An entry with no length (index 2, past the lengths) and no entry at all fall back to /56.
    subscriberPrefixOf(c, [0x20010dba, 0xabcdef12, 1, 2], out);
    expect(Array.from(out)).toEqual([0x20010dba, 0xabcdef00, 0, 0]);
    subscriberPrefixOf(c, [0x20010dbb, 0xabcdef12, 1, 2], out);
    expect(Array.from(out)).toEqual([0x20010dbb, 0xabcdef00, 0, 0]);
    // A tenant delegating /80s: word 2 keeps its top 16 bits, word 3 none.
    c.subscriberLengths.set(table, new Uint8Array([80]));
    subscriberPrefixOf(c, [0x20010db8, 0xabcdef12, 0x1235ffff, 0x9abcdef0], out);
    expect(Array.from(out)).toEqual([0x20010db8, 0xabcdef12, 0x12350000, 0]);
    expect(() => new SubscriberLengths().set(table, new Uint8Array([129]))).toThrow(/at most 128/);
    c.subscriberLengths.set(null);
    subscriberPrefixOf(c, [0x20010db8, 0xabcdef12, 1, 2], out);
    expect(Array.from(out)).toEqual([0x20010db8, 0xabcdef00, 0, 0]);
  });

  it('accepts every timeout at its RFC minimum and up to 2^40 ms, and refuses less naming the RFC', () => {
    const c = validateConfig({
      pool: POOL,
      timeouts: { udpMs: 120_000, tcpEstablishedMs: 7_440_000, tcpTransitoryMs: 240_000, icmpMs: 2 ** 40 },
    });
    expect([c.udpTimeoutMs, c.tcpEstablishedTimeoutMs, c.tcpTransitoryTimeoutMs, c.icmpTimeoutMs]).toEqual([
      120_000,
      7_440_000,
      240_000,
      2 ** 40,
    ]);
    expect(refusal({ timeouts: { udpMs: 2 ** 40 + 1 } }).field).toBe('timeouts.udpMs');
    expect(refusal({ timeouts: { udpMs: 119_999 } }).message).toBe(
      'timeouts.udpMs: 119999 is outside 120000..1099511627776; RFC 4787 REQ-5 requires at least 120000 ms',
    );
    expect(refusal({ timeouts: { tcpEstablishedMs: 1 } }).message).toMatch(
      /; RFC 5382 REQ-5 requires at least 7440000 ms$/,
    );
    expect(refusal({ timeouts: { tcpTransitoryMs: 1 } }).message).toMatch(
      /; RFC 5382 REQ-5 requires at least 240000 ms$/,
    );
    expect(refusal({ timeouts: { icmpMs: 1 } }).message).toMatch(
      /; RFC 5508 REQ-1 requires at least 60000 ms$/,
    );
  });

  it('bounds the port hold, the block idle time and the refresh lead, naming why', () => {
    expect(validateConfig({ pool: POOL, portReuseHoldMs: 2 ** 32 }).portReuseHoldMs).toBe(2 ** 32);
    expect(refusal({ portReuseHoldMs: 2 ** 32 + 1 }).field).toBe('portReuseHoldMs');
    expect(refusal({ portReuseHoldMs: 119_999 }).message).toMatch(
      /; RFC 6888 requires a freed port to be held at least 120000 ms$/,
    );
    expect(validateConfig({ pool: POOL, blockIdleTimeoutMs: 2 ** 40 }).blockIdleTimeoutMs).toBe(2 ** 40);
    expect(refusal({ portReuseHoldMs: 150_000, blockIdleTimeoutMs: 149_999 }).message).toBe(
      'blockIdleTimeoutMs: 149999 is outside 150000..1099511627776; a block must stay leased at least portReuseHoldMs after its last mapping, so freed ports keep their hold',
    );
    // Shortest timeout 60 s (ICMP): the lead may be 100 ms to 30 s.
    expect(validateConfig({ pool: POOL, refreshLeadMs: 100 }).refreshLeadMs).toBe(100);
    expect(validateConfig({ pool: POOL, refreshLeadMs: 30_000 }).refreshLeadMs).toBe(30_000);
    expect(refusal({ refreshLeadMs: 99 }).field).toBe('refreshLeadMs');
    expect(refusal({ refreshLeadMs: 30_001 }).message).toBe(
      'refreshLeadMs: 30001 is outside 100..30000; give a refresh time to reach the log, but less than half the shortest session timeout',
    );
    // The shortest of UDP 2 min, TRANS 4 min and ICMP 200 s is UDP's: at most 60 s.
    const longIcmp = { udpMs: 120_000, icmpMs: 200_000 };
    expect(validateConfig({ pool: POOL, timeouts: longIcmp, refreshLeadMs: 60_000 }).refreshLeadMs).toBe(
      60_000,
    );
    expect(refusal({ timeouts: longIcmp, refreshLeadMs: 60_001 }).field).toBe('refreshLeadMs');
  });

  it('accepts table bounds from 1 to 2^24 - 2 and refuses outside, each with its own fix', () => {
    const c = validateConfig({
      pool: POOL,
      sessionsMax: 16_777_214,
      mappingsMax: 1,
      subscribersMax: 16_777_214,
      leasedBlocksMax: 1,
      heldSynsMax: 16_777_214,
      subscriberBlocksMax: 65_536,
      subscriberSessionsMax: 16_777_214,
    });
    expect([c.sessionsMax, c.mappingsMax, c.subscribersMax, c.leasedBlocksMax, c.heldSynsMax]).toEqual([
      16_777_214, 1, 16_777_214, 1, 16_777_214,
    ]);
    expect([c.subscriberBlocksMax, c.subscriberSessionsMax]).toEqual([65_536, 16_777_214]);
    const fixes: [keyof NatEngineConfigInput, number, string][] = [
      ['sessionsMax', 16_777_215, 'size for peak sessions'],
      ['mappingsMax', 0, 'size for peak BIB'],
      ['subscribersMax', 0, 'size for the subscribers of one engine'],
      ['leasedBlocksMax', 16_777_215, 'size for the blocks leased at once (each costs 4 bytes per port)'],
      ['heldSynsMax', 0, 'size for SYN bursts'],
      ['subscriberBlocksMax', 65_537, 'give each subscriber at least one block per protocol'],
      ['subscriberSessionsMax', 0, 'give each subscriber at least one session'],
    ];
    for (const [field, value, fix] of fixes) {
      const e = refusal({ [field]: value });
      expect(e.field).toBe(field);
      expect(e.message.endsWith(`; ${fix}`), e.message).toBe(true);
    }
  });

  it('sizes subscribersMax from the largest protocol, capped at 262,144, unless configured', () => {
    // TCP 126 blocks per address, UDP 2 (1024-2047), ICMP 1 (0-511): the largest is TCP's, x 4 addresses.
    const small = validateConfig({ pool: POOL, ports: { udp: [1024, 2047], icmp: [0, 511] } });
    expect(small.subscribersMax).toBe(504);
    // 8 addresses x 65,536 one-port TCP blocks: 524,288, above the cap.
    const full = { tcp: [0, 65535], udp: [0, 65535], icmp: [0, 65535] } as const;
    const big = validateConfig({ pool: ['203.0.113.0/29'], blockSizePorts: 1, ports: full });
    expect(big.subscribersMax).toBe(262_144);
    // Every block (3 x 524,288) fits the slab budget of 2^24 one-port blocks.
    expect(big.leasedBlocksMax).toBe(1_572_864);
    // 65,536-port blocks: the budget is 2^24 / 65,536 = 256 blocks; a /25 has 3 x 128 = 384, a /26 192.
    expect(
      validateConfig({ pool: ['203.0.113.0/25'], blockSizePorts: 65_536, ports: full }).leasedBlocksMax,
    ).toBe(256);
    expect(
      validateConfig({ pool: ['203.0.113.0/26'], blockSizePorts: 65_536, ports: full }).leasedBlocksMax,
    ).toBe(192);
  });
});

describe('static BIB entries', () => {
  const entry = {
    protocol: 'tcp',
    ipv6: '2001:db8::10',
    ipv6Port: 80,
    ipv4: '203.0.113.1',
    ipv4Port: 80,
  } as const;

  it('resolves an entry to its slot, address words and ports, at both ends outside the dynamic range', () => {
    const c = validateConfig({
      pool: POOL,
      ports: { udp: [1024, 65023] },
      staticBib: [
        entry,
        { ...entry, ipv4Port: 1023 },
        { ...entry, protocol: 'udp', ipv4Port: 65024, ipv6Port: 65535 },
        { ...entry, protocol: 'icmp', ipv4Port: 80, ipv6Port: 0 },
        { ...entry, ipv4: '203.0.113.2', ipv4Port: 80 },
        { ...entry, ipv4: '203.0.113.0', ipv4Port: 80 },
      ],
    });
    expect(c.staticBib.map((s) => [s.protocolSlot, s.ipv4Port, s.ipv6Port, formatIpv4(s.ipv4)])).toEqual([
      [0, 80, 80, '203.0.113.1'],
      [0, 1023, 80, '203.0.113.1'],
      [1, 65024, 65535, '203.0.113.1'],
      [2, 80, 0, '203.0.113.1'],
      [0, 80, 80, '203.0.113.2'],
      [0, 80, 80, '203.0.113.0'],
    ]);
    expect(Array.from(c.staticBib[0].ipv6)).toEqual([0x20010db8, 0, 0, 0x10]);
    // Address 0 (0.0.0.0) is an address like any other to the configuration; an address that is not a
    // string is refused even where the pool holds 0.0.0.1.
    const zero = validateConfig({ pool: ['0.0.0.0/30'], staticBib: [{ ...entry, ipv4: '0.0.0.0' }] });
    expect(zero.staticBib[0].ipv4).toBe(0);
    expect(refusal({ pool: ['0.0.0.0/30'], staticBib: [{ ...entry, ipv4: 1 as never }] }).field).toBe(
      'staticBib[0].ipv4',
    );
  });

  it('refuses each malformed field by name, a port of the dynamic range and a second entry on one transport address', () => {
    const bad = (e: unknown, more: unknown[] = []) => refusal({ staticBib: [...more, e] as never });
    for (const notObject of [null, 'tcp 2001:db8::10 80 203.0.113.1 80']) {
      expect(bad(notObject).message).toBe(
        'staticBib[0]: expected an object; write { protocol, ipv6, ipv6Port, ipv4, ipv4Port }',
      );
    }
    expect(bad({ ...entry, protocol: 'sctp' }).message).toBe(
      'staticBib[0].protocol: unknown sctp; use tcp, udp or icmp',
    );
    expect(bad({ ...entry, ipv6: '2001:db8::zz' }).message).toBe(
      "staticBib[0].ipv6: '2001:db8::zz' is not an IPv6 address; write e.g. 2001:db8::10",
    );
    expect(bad({ ...entry, ipv6: 42 }).field).toBe('staticBib[0].ipv6');
    expect(bad({ ...entry, ipv4: '198.51.100.1' }).message).toBe(
      "staticBib[0].ipv4: '198.51.100.1' is not a pool address; use an address of pool",
    );
    expect(bad({ ...entry, ipv4: 42 }).field).toBe('staticBib[0].ipv4');
    expect(bad({ ...entry, ipv4: 'nonsense' }).field).toBe('staticBib[0].ipv4');
    expect(bad({ ...entry, ipv6Port: 65536 }).message).toBe(
      'staticBib[0].ipv6Port: 65536 is outside 0..65535; ports are 0..65535',
    );
    expect(bad({ ...entry, ipv4Port: -1 }).message).toBe(
      'staticBib[0].ipv4Port: -1 is outside 0..65535; ports are 0..65535',
    );
    for (const port of [1024, 65535]) {
      expect(bad({ ...entry, ipv4Port: port }).message).toBe(
        `staticBib[0].ipv4Port: ${port} is inside the dynamic tcp range 1024-65535 used by port blocks; pick a port outside that range or shrink ports.tcp`,
      );
    }
    expect(bad({ ...entry, ipv6Port: 81 }, [entry]).message).toBe(
      'staticBib[1].ipv4Port: duplicates staticBib[0]; give each entry its own port',
    );
  });
});

describe('deterministic prefix', () => {
  it('keeps the prefix with its host bits cleared, up to 30 bits shorter than the subscriber prefix', () => {
    const d = validateConfig({
      pool: POOL,
      deterministic: { ipv6Prefix: '2001:db8:ffff::/40' },
    }).deterministic;
    expect(d).not.toBeNull();
    expect(Array.from(d?.prefix ?? [])).toEqual([0x20010db8, 0xff000000, 0, 0]);
    expect(d?.prefixLength).toBe(40);
    expect(
      validateConfig({ pool: POOL, deterministic: { ipv6Prefix: '2001:db8::/56' } }).deterministic
        ?.prefixLength,
    ).toBe(56);
    expect(
      validateConfig({ pool: POOL, deterministic: { ipv6Prefix: '2001:db8::/26' } }).deterministic
        ?.prefixLength,
    ).toBe(26);
  });

  it('refuses a text that is not a prefix and a length outside /26../56 for /56 subscribers', () => {
    for (const text of ['/40', '2001:db8::', '2001:db8::/4x', 'zz::/40', '2001:db8::/40.5']) {
      expect(refusal({ deterministic: { ipv6Prefix: text } }).message, text).toBe(
        `deterministic.ipv6Prefix: '${text}' is not an IPv6 prefix; write e.g. 2001:db8::/40`,
      );
    }
    expect(refusal({ deterministic: { ipv6Prefix: 40 as never } }).field).toBe('deterministic.ipv6Prefix');
    expect(refusal({ deterministic: { ipv6Prefix: '2001:db8::/25' } }).message).toBe(
      'deterministic.ipv6Prefix: /25 must be at most 30 bits shorter than subscriberPrefixLength /56; use a prefix that covers the subscribers of this pool',
    );
    expect(refusal({ deterministic: { ipv6Prefix: '2001:db8::/57' } }).field).toBe(
      'deterministic.ipv6Prefix',
    );
  });
});
