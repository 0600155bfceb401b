// Unit tests of the pure virtio_net_hdr helpers: encode/decode at an offset inside a larger buffer,
// and the rewrite a super-packet needs when the translator changes its IP family.
import { describe, expect, it } from 'vitest';
import {
  adjustVnetHeaderForFamily,
  clampVnetGsoSize,
  clearVnetHeader,
  createVnetHeader,
  readVnetHeader,
  VnetAdjust,
  VnetFlag,
  VnetGso,
  type VnetHeader,
  vnetGsoSize,
  vnetGsoType,
  writeVnetHeader,
} from '../src/index.js';

// A TCP/IPv4 super-packet header as the kernel writes it into a TUN (no Ethernet header, so the TCP
// header and csum_start begin after the 20-byte IPv4 header), MSS 1448.
const tcp4: VnetHeader = {
  flags: VnetFlag.needsCsum,
  gsoType: VnetGso.tcpv4,
  hdrLen: 52,
  gsoSize: 1448,
  csumStart: 20,
  csumOffset: 16,
};

function encodeAt(header: VnetHeader, offset: number): Uint8Array {
  const buffer = new Uint8Array(offset + 16).fill(0xee);
  writeVnetHeader(buffer, offset, header);
  return buffer;
}

describe('virtio_net_hdr helpers', () => {
  it('round-trips every field at an offset inside a larger buffer without touching the neighbours', () => {
    for (const offset of [0, 3, 17]) {
      const header = { ...tcp4, hdrLen: 0x1234, gsoSize: 0xfedc, csumStart: 0x0102, csumOffset: 0xa0b0 };
      const buffer = encodeAt(header, offset);
      expect(readVnetHeader(buffer, offset, createVnetHeader())).toEqual(header);
      expect(buffer[offset - 1] ?? 0xee).toBe(0xee);
      expect(buffer[offset + 10]).toBe(0xee);
      // Little-endian, as virtio 1.0 and the TUN driver on x86/arm64 use.
      expect(buffer[offset + 2]).toBe(0x34);
      expect(buffer[offset + 3]).toBe(0x12);
    }
  });

  it('reads the GSO type without the ECN bit and the GSO size', () => {
    const buffer = encodeAt({ ...tcp4, gsoType: VnetGso.tcpv6 | VnetGso.ecn }, 0);
    expect(vnetGsoType(buffer, 0)).toBe(VnetGso.tcpv6);
    expect(vnetGsoSize(buffer, 0)).toBe(1448);
  });

  it('turns a TCPv4 super-packet into TCPv6: type switched, hdr_len and csum_start moved by +20, MSS kept', () => {
    const buffer = encodeAt(tcp4, 4);
    expect(adjustVnetHeaderForFamily(buffer, 4, 6, 20)).toBe(VnetAdjust.ok);
    expect(readVnetHeader(buffer, 4, createVnetHeader())).toEqual({
      ...tcp4,
      gsoType: VnetGso.tcpv6,
      hdrLen: 72,
      csumStart: 40,
    });
  });

  it('turns a TCPv6 super-packet with ECN into TCPv4 and keeps the ECN bit; an IPv4 options header shrinks the delta', () => {
    const buffer = encodeAt({ ...tcp4, gsoType: VnetGso.tcpv6 | VnetGso.ecn, hdrLen: 72, csumStart: 40 }, 0);
    expect(adjustVnetHeaderForFamily(buffer, 0, 4, -20)).toBe(VnetAdjust.ok);
    const header = readVnetHeader(buffer, 0, createVnetHeader());
    expect(header.gsoType).toBe(VnetGso.tcpv4 | VnetGso.ecn);
    expect(header.csumStart).toBe(20);
    expect(header.hdrLen).toBe(52);
    // IPv4 with 8 bytes of options (IHL 7) to IPv6: the network header grows by 12, not 20.
    const withOptions = encodeAt({ ...tcp4, csumStart: 28, hdrLen: 60 }, 0);
    expect(adjustVnetHeaderForFamily(withOptions, 0, 6, 12)).toBe(VnetAdjust.ok);
    expect(readVnetHeader(withOptions, 0, createVnetHeader()).csumStart).toBe(40);
  });

  it('keeps UDP segmentation (USO) as UDP_L4 for both families and only moves the offsets', () => {
    const buffer = encodeAt({ ...tcp4, gsoType: VnetGso.udpL4, hdrLen: 28, csumOffset: 6 }, 0);
    expect(adjustVnetHeaderForFamily(buffer, 0, 6, 20)).toBe(VnetAdjust.ok);
    expect(readVnetHeader(buffer, 0, createVnetHeader())).toMatchObject({
      gsoType: VnetGso.udpL4,
      hdrLen: 48,
      csumStart: 40,
    });
  });

  it('moves csum_start only when the checksum is partial, and leaves an unknown hdr_len of 0 alone', () => {
    const buffer = encodeAt(
      { flags: 0, gsoType: VnetGso.none, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 },
      0,
    );
    expect(adjustVnetHeaderForFamily(buffer, 0, 6, 20)).toBe(VnetAdjust.ok);
    expect(readVnetHeader(buffer, 0, createVnetHeader())).toMatchObject({ hdrLen: 0, csumStart: 0 });
  });

  it('refuses a GSO type that does not match the source family, legacy UFO, and offsets pushed out of range', () => {
    const tcp6 = encodeAt({ ...tcp4, gsoType: VnetGso.tcpv6 }, 0);
    expect(adjustVnetHeaderForFamily(tcp6, 0, 6, 20)).toBe(VnetAdjust.familyMismatch);
    expect(vnetGsoType(tcp6, 0)).toBe(VnetGso.tcpv6); // untouched on refusal
    const ufo = encodeAt({ ...tcp4, gsoType: VnetGso.udp }, 0);
    expect(adjustVnetHeaderForFamily(ufo, 0, 6, 20)).toBe(VnetAdjust.unsupportedGso);
    const small = encodeAt({ ...tcp4, gsoType: VnetGso.tcpv6, csumStart: 10, hdrLen: 10 }, 0);
    expect(adjustVnetHeaderForFamily(small, 0, 4, -20)).toBe(VnetAdjust.outOfRange);
  });

  it('clamps gso_size to the payload that fits the output MTU, and leaves non-GSO packets alone', () => {
    const buffer = encodeAt({ ...tcp4, gsoSize: 1460 }, 0);
    // 1500-byte IPv6 MTU minus 40 (IPv6) minus 20 (TCP): 1440.
    expect(clampVnetGsoSize(buffer, 0, 1440)).toBe(1440);
    expect(vnetGsoSize(buffer, 0)).toBe(1440);
    expect(clampVnetGsoSize(buffer, 0, 9000)).toBe(1440);
    const plain = encodeAt({ ...tcp4, gsoType: VnetGso.none, gsoSize: 1460 }, 0);
    expect(clampVnetGsoSize(plain, 0, 1000)).toBe(1460);
  });

  it('clears a header to "no offload" over the configured header size', () => {
    const buffer = encodeAt(tcp4, 2);
    clearVnetHeader(buffer, 2, 12);
    expect([...buffer.subarray(2, 14)]).toEqual(new Array(12).fill(0));
    expect(buffer[14]).toBe(0xee);
  });
});
