// The pcap codec reads back what it writes, strips Ethernet/VLAN/SLL link headers down to the
// L3 packet, and refuses truncated or unsupported captures with a message naming the problem.
import { describe, expect, it } from 'vitest';
import { isPcap, LINKTYPE_ETHERNET, readPcap, writePcap } from '../../services/cli/src/index.js';

function captureWithLinkType(linkType: number, frames: Uint8Array[]): Uint8Array {
  const raw = writePcap(frames.map((packet, i) => ({ packet, timeUs: 1_000_000 * i + 7 })));
  new DataView(raw.buffer).setUint32(20, linkType, true);
  return raw;
}

describe('pcap codec', () => {
  it('round-trips LINKTYPE_RAW packets and their microsecond timestamps', () => {
    const packets = [Uint8Array.of(0x45, 1, 2, 3), Uint8Array.of(0x60, 9, 8, 7, 6, 5)];
    const file = writePcap(packets.map((packet, i) => ({ packet, timeUs: 1_700_000_000_123_456 + i })));
    expect(isPcap(file)).toBe(true);
    const { records, skipped } = readPcap(file, 'x.pcap');
    expect(skipped).toBe(0);
    expect(records.map((r) => Array.from(r.packet))).toEqual(packets.map((p) => Array.from(p)));
    expect(records[1].timeUs).toBe(1_700_000_000_123_457);
  });

  it('strips Ethernet and 802.1Q headers and skips frames that are not IP', () => {
    const ip = [0x60, 0, 0, 0];
    const plain = Uint8Array.of(...new Array(12).fill(0), 0x86, 0xdd, ...ip);
    const tagged = Uint8Array.of(...new Array(12).fill(0), 0x81, 0x00, 0, 5, 0x08, 0x00, 0x45, 1);
    const arp = Uint8Array.of(...new Array(12).fill(0), 0x08, 0x06, 1, 2);
    const { records, skipped } = readPcap(
      captureWithLinkType(LINKTYPE_ETHERNET, [plain, tagged, arp]),
      'e.pcap',
    );
    expect(records.map((r) => Array.from(r.packet))).toEqual([ip, [0x45, 1]]);
    expect(skipped).toBe(1);
  });

  it('refuses a record that runs past the end of the file, naming the byte offset', () => {
    const file = writePcap([{ packet: new Uint8Array(40), timeUs: 0 }]);
    expect(() => readPcap(file.subarray(0, file.length - 1), 'cut.pcap')).toThrow(
      /cut\.pcap: record at byte 24/,
    );
  });

  it('refuses an unsupported link type, naming it', () => {
    expect(() => readPcap(captureWithLinkType(147, []), 'u.pcap')).toThrow(/link type 147 is not supported/);
  });
});
