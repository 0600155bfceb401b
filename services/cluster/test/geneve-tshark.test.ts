// An independent decoder reads our fabric frames as GENEVE (RFC 8926): tshark (Wireshark's dissector,
// installed by infra/scripts/ensure-system-deps.sh) finds version 0, the VNI, our critical option's
// class, type and length, the inner protocol, and the inner IPv6 packet behind the header.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  FABRIC_HEADER_BYTES,
  FABRIC_OPTION_CLASS,
  FABRIC_OPTION_TYPE,
  FabricCodec,
  GENEVE_UDP_PORT,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), `x64t-geneve-${process.pid}-`));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An IPv6/UDP packet 2001:db8::1 -> 64:ff9b::c633:6402 (198.51.100.2), port 4000 -> 4001. */
function innerIpv6(): Uint8Array {
  const body = new TextEncoder().encode('xlat64 fabric');
  const p = new Uint8Array(40 + 8 + body.length);
  p[0] = 0x60;
  p[4] = (8 + body.length) >> 8;
  p[5] = (8 + body.length) & 0xff;
  p[6] = 17;
  p[7] = 64;
  p.set([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1], 8);
  p.set([0, 0x64, 0xff, 0x9b, ...new Array(8).fill(0), 198, 51, 100, 2], 24);
  p.set([0x0f, 0xa0, 0x0f, 0xa1, 0, 8 + body.length, 0, 0], 40);
  p.set(body, 48);
  // UDP checksum over the RFC 8200 sec. 8.1 pseudo-header (0 is illegal over IPv6).
  let sum = 17 + 8 + body.length;
  for (let i = 8; i < 40; i += 2) sum += (p[i] << 8) | p[i + 1];
  for (let i = 40; i < p.length; i += 2) sum += (p[i] << 8) | (i + 1 < p.length ? p[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const checksum = ~sum & 0xffff || 0xffff;
  p[46] = checksum >> 8;
  p[47] = checksum & 0xff;
  return p;
}

/** IPv4 + UDP to port 6081 around `payload`, loopback to loopback, with a correct header checksum. */
function outerIpv4Udp(payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + 8 + payload.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set([127, 0, 0, 1], 12);
  p.set([127, 0, 0, 2], 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const checksum = ~sum & 0xffff;
  p[10] = checksum >> 8;
  p[11] = checksum & 0xff;
  p.set(
    [
      0xc0,
      0x01,
      GENEVE_UDP_PORT >> 8,
      GENEVE_UDP_PORT & 0xff,
      (8 + payload.length) >> 8,
      (8 + payload.length) & 0xff,
      0,
      0,
    ],
    20,
  );
  p.set(payload, 28);
  return p;
}

/** A pcap file (LINKTYPE_RAW: packets start at the IP header) holding `packets`. */
function pcap(packets: Uint8Array[]): Buffer {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(65535, 16);
  header.writeUInt32LE(101, 20);
  const records = packets.map((p, i) => {
    const r = Buffer.alloc(16 + p.length);
    r.writeUInt32LE(1_700_000_000 + i, 0);
    r.writeUInt32LE(p.length, 8);
    r.writeUInt32LE(p.length, 12);
    r.set(p, 16);
    return r;
  });
  return Buffer.concat([header, ...records]);
}

describe('fabric frames through Wireshark', () => {
  it('tshark decodes a sealed fabric frame as GENEVE with our option and the inner IPv6 packet', () => {
    // Proves the wire format is standard GENEVE: a layout error (lengths, flags, option header) would
    // make the dissector report another version, a malformed option or no inner IPv6.
    const codec = new FabricCodec({
      nodeId: 'node-a',
      keys: [{ id: 3, secretHex: '5a'.repeat(32) }],
      vni: 0x464,
    });
    const inner = innerIpv6();
    const frame = new Uint8Array(FABRIC_HEADER_BYTES + inner.length);
    codec.seal(frame, inner, inner.length, 77, 5);
    const file = join(dir, 'fabric.pcap');
    writeFileSync(file, pcap([outerIpv4Udp(frame)]));
    const fields = [
      'geneve.version',
      'geneve.flags.oam',
      'geneve.flags.critical',
      'geneve.proto_type',
      'geneve.vni',
      'geneve.option.class',
      'geneve.option.type',
      'geneve.option.length',
      'ipv6.src',
      'ipv6.dst',
      '_ws.expert',
    ];
    const out = execFileSync(
      'tshark',
      ['-r', file, '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    ).trim();
    const values = Object.fromEntries(out.split('|').map((v, i) => [fields[i], v]));
    expect(values['geneve.version']).toBe('0');
    expect(values['geneve.flags.oam']).toMatch(/^(0|False)$/);
    expect(values['geneve.flags.critical']).toMatch(/^(1|True)$/);
    expect(Number(values['geneve.proto_type'])).toBe(0x86dd);
    expect(Number(values['geneve.vni'])).toBe(0x464);
    expect(Number(values['geneve.option.class'])).toBe(FABRIC_OPTION_CLASS);
    expect(Number(values['geneve.option.type'])).toBe(FABRIC_OPTION_TYPE);
    // Wireshark shows the option's total length in bytes (header included): 4 + 36.
    // Wireshark shows both the options' total and the option's length, in bytes (header included).
    expect(values['geneve.option.length'].split(',').map(Number)).toEqual([
      FABRIC_HEADER_BYTES - 8,
      FABRIC_HEADER_BYTES - 8,
    ]);
    expect(values['ipv6.src']).toBe('2001:db8::1');
    expect(values['ipv6.dst']).toBe('64:ff9b::c633:6402');
    expect(values['_ws.expert']).toBe('');
  });
});
