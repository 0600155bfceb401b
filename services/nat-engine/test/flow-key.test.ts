// Proves the protocol slots of flow-key.ts map IANA numbers (RFC 790 / IANA: ICMP 1, TCP 6, UDP 17,
// ICMPv6 58) to the engine's tables both ways: ICMPv4 and ICMPv6 queries share one slot (RFC 6146
// sec. 3.5.3 translates one into the other), anything else has none, and a slot's IPv4-side number is
// what the IPv4 header carries. A fresh flow key describes no flow.
import { describe, expect, it } from 'vitest';
import { protocolNumberOfSlot } from '../src/flow-key.js';
import { createFlowKey4, createFlowKey6, PROTOCOL_SLOTS, protocolSlotOf } from '../src/internal.js';

describe('flow keys and protocol slots', () => {
  it('maps TCP 6, UDP 17, ICMP 1 and ICMPv6 58 to slots tcp, udp, icmp, icmp and every other number to -1', () => {
    expect(PROTOCOL_SLOTS[protocolSlotOf(6)]).toBe('tcp');
    expect(PROTOCOL_SLOTS[protocolSlotOf(17)]).toBe('udp');
    expect(PROTOCOL_SLOTS[protocolSlotOf(1)]).toBe('icmp');
    expect(PROTOCOL_SLOTS[protocolSlotOf(58)]).toBe('icmp');
    const others: number[] = [];
    for (let p = 0; p < 256; p++) if (![1, 6, 17, 58].includes(p) && protocolSlotOf(p) !== -1) others.push(p);
    expect(others).toEqual([]);
  });

  it('gives each slot its IPv4-side protocol number: tcp 6, udp 17, icmp 1 (ICMPv4, never 58)', () => {
    expect(PROTOCOL_SLOTS.map((_, slot) => protocolNumberOfSlot(slot))).toEqual([6, 17, 1]);
  });

  it('creates keys with every field zero, no flags and no ICMP error bit', () => {
    const k6 = createFlowKey6();
    expect(k6).toEqual({
      protocol: 0,
      src6: new Uint32Array(4),
      srcPort: 0,
      dst4: 0,
      dstPort: 0,
      tcpFlags: 0,
      icmpError: false,
    });
    expect(createFlowKey4()).toEqual({
      protocol: 0,
      src4: 0,
      srcPort: 0,
      dst4: 0,
      dstPort: 0,
      tcpFlags: 0,
      icmpError: false,
    });
  });
});
