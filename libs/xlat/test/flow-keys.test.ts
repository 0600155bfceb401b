// Proves extractFlowKey4/6 (RFC 6146 sec. 3.4, "determining the incoming tuple") fill every field of
// a reused FlowKey exactly for each kind of packet: TCP/UDP ports and flags, ICMP queries (identifier
// in both ports) and errors (RFC 792 / RFC 4443 types, the quoted packet's key however short the
// quote), other protocols, fragments, packets inside a larger buffer, and a named drop reason for
// each malformed case.
import { describe, expect, it } from 'vitest';
import { dropReasonName, extractFlowKey4, extractFlowKey6, FlowKey, parseIpv4Address } from '../src/index.js';
import { concat, fragmentHeader, icmp, ipv4, ipv6, tcp, udp, v6 } from './packets.js';

const H6 = '2001:db8:1::5';
const R6 = '64:ff9b::203.0.113.7';
const REMOTE = '203.0.113.7';
const POOL = '198.51.100.1';
const ROUTER = '192.0.2.99';

/** The fields a packet without an inner key sets, as one comparable object. */
function outer(key: FlowKey) {
  return {
    family: key.family,
    protocol: key.protocol,
    srcPort: key.srcPort,
    dstPort: key.dstPort,
    hasPorts: key.hasPorts,
    tcpFlags: key.tcpFlags,
    icmpType: key.icmpType,
    icmpCode: key.icmpCode,
    icmpError: key.icmpError,
  };
}

function inner(key: FlowKey) {
  const i = key.inner;
  return { protocol: i.protocol, srcPort: i.srcPort, dstPort: i.dstPort, hasPorts: i.hasPorts };
}

const none = {
  srcPort: 0,
  dstPort: 0,
  hasPorts: false,
  tcpFlags: 0,
  icmpType: -1,
  icmpCode: -1,
  icmpError: false,
};

/** A key left dirty by an ICMP error with an inner key, so every reset is observable. */
function dirtyKey(): FlowKey {
  const key = new FlowKey();
  const quoted = ipv4({ src: POOL, dst: REMOTE, protocol: 6, payload: tcp(1111, 2222, 0x12) });
  const err = ipv4({ src: ROUTER, dst: POOL, protocol: 1, payload: icmp(3, 1, 0, quoted) });
  expect(extractFlowKey4(err, key)).toBe(0);
  expect(key.tcpFlags).toBe(0);
  key.tcpFlags = 0xff;
  key.srcPort = 7;
  key.dstPort = 7;
  key.hasPorts = true;
  return key;
}

describe('FlowKey', () => {
  it('a new key describes no packet: no ports, no ICMP type or code (-1), no error, no fragment', () => {
    const key = new FlowKey();
    expect(outer(key)).toEqual({ ...none, family: 0, protocol: 0 });
    expect([key.isFragment, key.fragmentOffset, key.moreFragments, key.fragmentId]).toEqual([
      false,
      0,
      false,
      0,
    ]);
    expect(inner(key)).toEqual({ protocol: 0, srcPort: 0, dstPort: 0, hasPorts: false });
  });
});

describe('extractFlowKey4', () => {
  it('UDP: ports, no TCP flags, no ICMP fields, addresses as signed 32-bit and bytes', () => {
    const key = dirtyKey();
    // 8 data bytes: the UDP datagram is 16 bytes (shorter than a TCP header) and byte 13 is not 0.
    const p = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(5353, 53, 8) });
    expect(extractFlowKey4(p, key)).toBe(0);
    expect(outer(key)).toEqual({
      ...none,
      family: 4,
      protocol: 17,
      srcPort: 5353,
      dstPort: 53,
      hasPorts: true,
    });
    expect(key.src4).toBe(parseIpv4Address(POOL)! | 0);
    expect(key.dst4).toBe(parseIpv4Address(REMOTE)! | 0);
    expect([...key.src.subarray(0, 4)]).toEqual([198, 51, 100, 1]);
    expect([...key.dst.subarray(0, 4)]).toEqual([203, 0, 113, 7]);
    expect([key.isFragment, key.fragmentOffset, key.moreFragments]).toEqual([false, 0, false]);
  });

  it('TCP: ports and the flags byte', () => {
    const key = dirtyKey();
    const p = ipv4({ src: POOL, dst: REMOTE, protocol: 6, payload: tcp(40000, 443, 0x11) });
    expect(extractFlowKey4(p, key)).toBe(0);
    expect(outer(key)).toEqual({
      ...none,
      family: 4,
      protocol: 6,
      srcPort: 40000,
      dstPort: 443,
      hasPorts: true,
      tcpFlags: 0x11,
    });
  });

  it('ICMP echo request and reply (RFC 792 types 8 and 0): the identifier in both ports', () => {
    const key = dirtyKey();
    for (const type of [8, 0]) {
      const p = ipv4({ src: POOL, dst: REMOTE, protocol: 1, payload: icmp(type, 0, 0x12340005, 0) });
      expect(extractFlowKey4(p, key), `type ${type}`).toBe(0);
      expect(outer(key)).toEqual({
        ...none,
        family: 4,
        protocol: 1,
        srcPort: 0x1234,
        dstPort: 0x1234,
        hasPorts: true,
        icmpType: type,
        icmpCode: 0,
      });
    }
  });

  it('ICMP types that are neither queries nor errors (timestamp 13, redirect 5, source quench 4)', () => {
    const key = dirtyKey();
    for (const type of [13, 5, 4]) {
      const quoted = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(1, 2) });
      const p = ipv4({ src: ROUTER, dst: POOL, protocol: 1, payload: icmp(type, 1, 0x12340005, quoted) });
      expect(extractFlowKey4(p, key), `type ${type}`).toBe(0);
      expect(outer(key)).toEqual({ ...none, family: 4, protocol: 1, icmpType: type, icmpCode: 1 });
    }
  });

  it('other protocols, ICMPv6 carried in IPv4 included, have no ports and no ICMP fields', () => {
    const key = dirtyKey();
    for (const protocol of [47, 58]) {
      const p = ipv4({ src: POOL, dst: REMOTE, protocol, payload: icmp(128, 0, 0x12340005) });
      expect(extractFlowKey4(p, key), `protocol ${protocol}`).toBe(0);
      expect(outer(key)).toEqual({ ...none, family: 4, protocol });
    }
  });

  it('fragments: the first has ports, a later one none (its bytes are not a header)', () => {
    const key = dirtyKey();
    const first = ipv4({
      src: POOL,
      dst: REMOTE,
      protocol: 17,
      payload: udp(5353, 53, 16),
      mf: true,
      id: 0x4242,
    });
    expect(extractFlowKey4(first, key)).toBe(0);
    expect([key.isFragment, key.fragmentOffset, key.moreFragments, key.fragmentId]).toEqual([
      true,
      0,
      true,
      0x4242,
    ]);
    expect([key.srcPort, key.dstPort, key.hasPorts]).toEqual([5353, 53, true]);
    const later = ipv4({
      src: POOL,
      dst: REMOTE,
      protocol: 17,
      payload: udp(5353, 53, 16),
      fragmentOffset: 3,
      id: 0x4242,
    });
    expect(extractFlowKey4(later, key)).toBe(0);
    expect([key.isFragment, key.fragmentOffset, key.moreFragments, key.fragmentId]).toEqual([
      true,
      3,
      false,
      0x4242,
    ]);
    expect(outer(key)).toEqual({ ...none, family: 4, protocol: 17 });
  });

  it('reads a packet inside a larger buffer from its start to the end of the buffer', () => {
    const key = new FlowKey();
    const p = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(5353, 53) });
    const batch = concat(new Uint8Array(10).fill(0x45), p);
    expect(extractFlowKey4(batch, key, 10)).toBe(0);
    expect([key.srcPort, key.dstPort, key.src4 >>> 0]).toEqual([5353, 53, parseIpv4Address(POOL)]);
  });

  it('names each malformed case: truncated, bad header checksum, not IPv4, short L4 headers', () => {
    const key = new FlowKey();
    const good = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(5353, 53) });
    const reason = (p: Uint8Array) => dropReasonName(extractFlowKey4(p, key));
    expect(reason(good.subarray(0, good.length - 1))).toBe('truncated46'); // total length beyond the data
    const badSum = good.slice();
    badSum[10] ^= 1;
    expect(reason(badSum)).toBe('checksum46');
    const version5 = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(5353, 53) });
    version5[0] = 0x55;
    expect(reason(version5)).toBe('header46');
    expect(
      reason(ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: new Uint8Array(7), rawL4: true })),
    ).toBe('truncated46');
    expect(
      reason(ipv4({ src: POOL, dst: REMOTE, protocol: 6, payload: new Uint8Array(19), rawL4: true })),
    ).toBe('truncated46');
    expect(
      reason(ipv4({ src: POOL, dst: REMOTE, protocol: 1, payload: new Uint8Array(7), rawL4: true })),
    ).toBe('truncated46');
  });
});

describe('extractFlowKey4: ICMP errors (types 3, 11, 12) and the quoted packet', () => {
  it('each error type yields the quoted UDP key from a quote cut after 8 bytes of UDP', () => {
    const key = dirtyKey();
    // The quoted header says 128 bytes; only 28 are quoted, as routers do.
    const quoted = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(6000, 53, 100) }).subarray(
      0,
      28,
    );
    for (const [type, code] of [
      [3, 3],
      [11, 0],
      [12, 0],
    ]) {
      const err = ipv4({ src: ROUTER, dst: POOL, protocol: 1, payload: icmp(type, code, 0, quoted) });
      expect(extractFlowKey4(err, key), `type ${type}`).toBe(0);
      expect(outer(key)).toEqual({
        ...none,
        family: 4,
        protocol: 1,
        icmpType: type,
        icmpCode: code,
        icmpError: true,
      });
      expect(inner(key)).toEqual({ protocol: 17, srcPort: 6000, dstPort: 53, hasPorts: true });
      expect([key.inner.src4 >>> 0, key.inner.dst4 >>> 0]).toEqual([
        parseIpv4Address(POOL),
        parseIpv4Address(REMOTE),
      ]);
      expect([...key.inner.src.subarray(0, 4), ...key.inner.dst.subarray(0, 4)]).toEqual([
        198, 51, 100, 1, 203, 0, 113, 7,
      ]);
    }
  });

  it('a quoted header with a wrong checksum is still read (the quote is evidence, not a packet)', () => {
    const key = new FlowKey();
    const quoted = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(6000, 53) });
    quoted[10] ^= 0xff;
    const err = ipv4({ src: ROUTER, dst: POOL, protocol: 1, payload: icmp(11, 0, 0, quoted) });
    expect(extractFlowKey4(err, key)).toBe(0);
    expect(inner(key)).toEqual({ protocol: 17, srcPort: 6000, dstPort: 53, hasPorts: true });
  });

  it('ports need 4 quoted bytes of TCP/UDP, an identifier 6 bytes of an echo request or reply', () => {
    const key = new FlowKey();
    const cases: [number, Uint8Array, number, boolean, number, number][] = [
      [6, tcp(1111, 2222), 4, true, 1111, 2222],
      [6, tcp(1111, 2222), 3, false, 0, 0],
      [17, udp(3333, 4444), 4, true, 3333, 4444],
      [1, icmp(8, 0, 0x0abc0001), 6, true, 0x0abc, 0x0abc],
      [1, icmp(0, 0, 0x0abc0001), 6, true, 0x0abc, 0x0abc],
      [1, icmp(8, 0, 0x0abc0001), 5, false, 0, 0],
      // An ICMP error quoted inside an ICMP error has no identifier.
      [1, icmp(3, 1, 0x0abc0001), 8, false, 0, 0],
      // Neither TCP/UDP nor ICMP: no ports, whatever its first byte says.
      [47, new Uint8Array(8), 8, false, 0, 0],
    ];
    for (const [protocol, l4, quotedL4, hasPorts, srcPort, dstPort] of cases) {
      const quoted = ipv4({ src: POOL, dst: REMOTE, protocol, payload: l4 }).subarray(0, 20 + quotedL4);
      const err = ipv4({ src: ROUTER, dst: POOL, protocol: 1, payload: icmp(3, 1, 0, quoted) });
      key.inner.hasPorts = true;
      const what = `protocol ${protocol} with ${quotedL4} bytes`;
      expect(extractFlowKey4(err, key), what).toBe(0);
      expect(inner(key), what).toEqual({ protocol, srcPort, dstPort, hasPorts });
    }
  });

  it('a quoted later fragment has no ports', () => {
    const key = new FlowKey();
    const quoted = ipv4({ src: POOL, dst: REMOTE, protocol: 17, payload: udp(6000, 53), fragmentOffset: 8 });
    const err = ipv4({ src: ROUTER, dst: POOL, protocol: 1, payload: icmp(3, 1, 0, quoted) });
    key.inner.hasPorts = true;
    expect(extractFlowKey4(err, key)).toBe(0);
    expect(inner(key)).toEqual({ protocol: 17, srcPort: 0, dstPort: 0, hasPorts: false });
  });

  it('a quote that is not an IPv4 header is dropped as icmpinner46', () => {
    const key = new FlowKey();
    const err = ipv4({ src: ROUTER, dst: POOL, protocol: 1, payload: icmp(3, 1, 0, new Uint8Array(28)) });
    expect(dropReasonName(extractFlowKey4(err, key))).toBe('icmpinner46');
  });
});

describe('extractFlowKey6', () => {
  it('UDP and TCP: ports, flags only for TCP, addresses as bytes', () => {
    const key = dirtyKey();
    const p = ipv6({ src: H6, dst: R6, nextHeader: 17, payload: udp(5353, 53, 8) });
    expect(extractFlowKey6(p, key)).toBe(0);
    expect(outer(key)).toEqual({
      ...none,
      family: 6,
      protocol: 17,
      srcPort: 5353,
      dstPort: 53,
      hasPorts: true,
    });
    expect([key.src4, key.dst4]).toEqual([0, 0]);
    expect(key.src).toEqual(v6(H6));
    expect(key.dst).toEqual(v6(R6));
    const t = ipv6({ src: H6, dst: R6, nextHeader: 6, payload: tcp(40000, 443, 0x04) });
    expect(extractFlowKey6(t, key)).toBe(0);
    expect(outer(key)).toEqual({
      ...none,
      family: 6,
      protocol: 6,
      srcPort: 40000,
      dstPort: 443,
      hasPorts: true,
      tcpFlags: 0x04,
    });
  });

  it('ICMPv6 echo request and reply (RFC 4443 types 128 and 129): the identifier in both ports', () => {
    const key = dirtyKey();
    for (const type of [128, 129]) {
      const p = ipv6({ src: H6, dst: R6, nextHeader: 58, payload: icmp(type, 0, 0x56780001, 0) });
      expect(extractFlowKey6(p, key), `type ${type}`).toBe(0);
      expect(outer(key)).toEqual({
        ...none,
        family: 6,
        protocol: 58,
        srcPort: 0x5678,
        dstPort: 0x5678,
        hasPorts: true,
        icmpType: type,
        icmpCode: 0,
      });
    }
  });

  it('ICMPv6 informational and unassigned types (0, 5, 135) are neither queries nor errors', () => {
    const key = dirtyKey();
    for (const type of [0, 5, 135]) {
      const quoted = ipv6({ src: R6, dst: H6, nextHeader: 17, payload: udp(1, 2) });
      const p = ipv6({ src: H6, dst: R6, nextHeader: 58, payload: icmp(type, 2, 0x56780001, quoted) });
      expect(extractFlowKey6(p, key), `type ${type}`).toBe(0);
      expect(outer(key)).toEqual({ ...none, family: 6, protocol: 58, icmpType: type, icmpCode: 2 });
    }
  });

  it('other protocols, ICMPv4 carried in IPv6 included, have no ports and no ICMP fields', () => {
    const key = dirtyKey();
    for (const protocol of [47, 1]) {
      const p = ipv6({ src: H6, dst: R6, nextHeader: protocol, payload: icmp(8, 0, 0x56780001) });
      expect(extractFlowKey6(p, key), `protocol ${protocol}`).toBe(0);
      expect(outer(key)).toEqual({ ...none, family: 6, protocol });
    }
  });

  it('reads a packet inside a larger buffer from its start to the end of the buffer', () => {
    const key = new FlowKey();
    const p = ipv6({ src: H6, dst: R6, nextHeader: 17, payload: udp(5353, 53) });
    const batch = concat(new Uint8Array(6).fill(0x60), p);
    expect(extractFlowKey6(batch, key, 6)).toBe(0);
    expect([key.srcPort, key.dstPort]).toEqual([5353, 53]);
    expect(key.src).toEqual(v6(H6));
  });

  it('names each malformed case: truncated, not IPv6, short L4 headers', () => {
    const key = new FlowKey();
    const reason = (p: Uint8Array) => dropReasonName(extractFlowKey6(p, key));
    const good = ipv6({ src: H6, dst: R6, nextHeader: 17, payload: udp(5353, 53) });
    expect(reason(good.subarray(0, good.length - 1))).toBe('truncated64'); // payload length beyond the data
    const version4 = good.slice();
    version4[0] = 0x40;
    expect(reason(version4)).toBe('header64');
    expect(reason(ipv6({ src: H6, dst: R6, nextHeader: 6, payload: new Uint8Array(19), rawL4: true }))).toBe(
      'truncated64',
    );
    expect(reason(ipv6({ src: H6, dst: R6, nextHeader: 17, payload: new Uint8Array(7), rawL4: true }))).toBe(
      'truncated64',
    );
    expect(reason(ipv6({ src: H6, dst: R6, nextHeader: 58, payload: new Uint8Array(7), rawL4: true }))).toBe(
      'truncated64',
    );
  });
});

describe('extractFlowKey6: ICMPv6 errors (types 1-4) and the quoted packet', () => {
  it('each error type yields the quoted UDP key from a quote cut after 8 bytes of UDP', () => {
    const key = dirtyKey();
    // The quoted header says 108 payload bytes; only 8 are quoted.
    const quoted = ipv6({ src: H6, dst: R6, nextHeader: 17, payload: udp(40000, 53, 100) }).subarray(0, 48);
    for (const type of [1, 2, 3, 4]) {
      const err = ipv6({ src: '2001:db8::ff', dst: H6, nextHeader: 58, payload: icmp(type, 0, 0, quoted) });
      expect(extractFlowKey6(err, key), `type ${type}`).toBe(0);
      expect(outer(key)).toEqual({
        ...none,
        family: 6,
        protocol: 58,
        icmpType: type,
        icmpCode: 0,
        icmpError: true,
      });
      expect(inner(key)).toEqual({ protocol: 17, srcPort: 40000, dstPort: 53, hasPorts: true });
      expect(key.inner.src).toEqual(v6(H6));
      expect(key.inner.dst).toEqual(v6(R6));
      expect([key.inner.src4, key.inner.dst4]).toEqual([0, 0]);
    }
  });

  it('ports need 4 quoted bytes of TCP/UDP, an identifier 6 bytes of an echo request or reply', () => {
    const key = new FlowKey();
    const cases: [number, Uint8Array, number, boolean, number, number][] = [
      [6, tcp(1111, 2222), 4, true, 1111, 2222],
      [17, udp(3333, 4444), 3, false, 0, 0],
      [58, icmp(128, 0, 0x0abc0001), 6, true, 0x0abc, 0x0abc],
      [58, icmp(129, 0, 0x0abc0001), 6, true, 0x0abc, 0x0abc],
      [58, icmp(129, 0, 0x0abc0001), 5, false, 0, 0],
      [58, icmp(1, 4, 0x0abc0001), 8, false, 0, 0],
      // Types 0 and 8 are ICMPv4 echo types, not ICMPv6 ones.
      [58, icmp(8, 0, 0x0abc0001), 8, false, 0, 0],
      [47, new Uint8Array(8).fill(128), 8, false, 0, 0],
    ];
    for (const [protocol, l4, quotedL4, hasPorts, srcPort, dstPort] of cases) {
      const quoted = ipv6({ src: H6, dst: R6, nextHeader: protocol, payload: l4 }).subarray(0, 40 + quotedL4);
      const err = ipv6({ src: '2001:db8::ff', dst: H6, nextHeader: 58, payload: icmp(1, 0, 0, quoted) });
      key.inner.hasPorts = true;
      const what = `protocol ${protocol} with ${quotedL4} bytes`;
      expect(extractFlowKey6(err, key), what).toBe(0);
      expect(inner(key), what).toEqual({ protocol, srcPort, dstPort, hasPorts });
    }
  });

  it('a quoted later fragment has no ports', () => {
    const key = new FlowKey();
    const quoted = ipv6({
      src: H6,
      dst: R6,
      nextHeader: 44,
      extensions: fragmentHeader(17, 8, false, 0x77),
      payload: udp(40000, 53),
      rawL4: true,
    });
    const err = ipv6({ src: '2001:db8::ff', dst: H6, nextHeader: 58, payload: icmp(1, 0, 0, quoted) });
    key.inner.hasPorts = true;
    expect(extractFlowKey6(err, key)).toBe(0);
    expect(inner(key)).toEqual({ protocol: 17, srcPort: 0, dstPort: 0, hasPorts: false });
  });

  it('a quote that is not an IPv6 header is dropped as icmpinner64', () => {
    const key = new FlowKey();
    const err = ipv6({
      src: '2001:db8::ff',
      dst: H6,
      nextHeader: 58,
      payload: icmp(3, 0, 0, new Uint8Array(48)),
    });
    expect(dropReasonName(extractFlowKey6(err, key))).toBe('icmpinner64');
  });
});
