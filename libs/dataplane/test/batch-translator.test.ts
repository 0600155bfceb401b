// The batch loop writes each translated packet behind its own virtio header: fragments the
// translator produced from one packet are spread apart intact, and a GSO super-packet keeps a
// partial checksum and gets its virtio header rewritten for the other family.
import { describe, expect, it } from 'vitest';
import {
  fold,
  formatIpv6,
  ipv4,
  ipv6,
  parseIpv6,
  pseudo6Sum,
  tcp,
  udp,
} from '../../../test/support/build.js';
import { checkPacket } from '../../../test/support/wellformed.js';
import { createVnetHeader, readVnetHeader, VnetFlag, VnetGso } from '../../tun/src/index.js';
import { BatchTranslator } from '../src/batch-translator.js';
import { roleCounterLayout } from '../src/role-counters.js';
import { TranslatorStep, translatorStepDropNames } from './fixtures/translator-step.js';

const VNET = 10;

function translatorBatch() {
  const layout = roleCounterLayout(translatorStepDropNames);
  const step = new TranslatorStep(
    {
      prefix: '64:ff9b::/96',
      allowNonGlobalIpv4: true,
      eam: [{ ipv4: '192.0.0.1/32', ipv6: '2001:db8:1:464::1/128' }],
    },
    '2001:db8:1:464::1',
    layout,
  );
  const written: Buffer[] = [];
  const counters = new Float64Array(layout.allocate());
  const batch = new BatchTranslator(step, {
    fd: 3,
    vnetHdrBytes: VNET,
    mtu4: 1500,
    mtu6: 1500,
    counters,
    layout,
    writer: {
      writeBatch(_fd, buffer, offsets, lengths, count) {
        for (let i = 0; i < count; i++)
          written.push(Buffer.from(buffer.subarray(offsets[i], offsets[i] + lengths[i])));
        return count;
      },
    },
  });
  const feed = (header: Buffer, packet: Buffer) => {
    const buffer = Buffer.concat([Buffer.alloc(6), header, packet]);
    batch.onBatch(buffer, Uint32Array.of(6), Uint32Array.of(VNET + packet.length), 1);
  };
  /** One batch as a TUN read leaves it: packets back to back, `gap` other bytes before each. */
  const feedBatch = (packets: Buffer[], gap: number) => {
    const parts: Buffer[] = [];
    const offsets = new Uint32Array(packets.length);
    const lengths = new Uint32Array(packets.length);
    let at = 0;
    packets.forEach((packet, i) => {
      parts.push(Buffer.alloc(gap, 0xee), Buffer.alloc(VNET));
      at += gap;
      offsets[i] = at;
      lengths[i] = VNET + packet.length;
      parts.push(packet);
      at += VNET + packet.length;
    });
    parts.push(Buffer.alloc(gap, 0xee));
    batch.onBatch(Buffer.concat(parts), offsets, lengths, packets.length);
  };
  return { feed, feedBatch, written, counters, layout };
}

describe('batch translator', () => {
  it('translates each packet of a batch where it lies in the batch buffer, both directions, and writes them back to back', () => {
    const { feedBatch, written, counters, layout } = translatorBatch();
    const out4 = ipv4({
      src: '192.0.0.1',
      dst: '198.51.100.2',
      payload: udp({ srcPort: 1000, dstPort: 53 }),
    });
    const in6 = ipv6({
      src: '64:ff9b::198.51.100.2',
      dst: '2001:db8:1:464::1',
      payload: udp({ srcPort: 53, dstPort: 1000, payload: Buffer.alloc(300, 0x42) }),
    });
    const elsewhere = ipv6({ src: '64:ff9b::198.51.100.2', dst: '2001:db8:1:464::2', payload: udp({}) });
    const out4Tcp = ipv4({
      src: '192.0.0.1',
      dst: '198.51.100.3',
      payload: tcp({ srcPort: 1001, dstPort: 80, payload: Buffer.alloc(150, 0x43) }),
    });
    feedBatch([out4, in6, elsewhere, out4Tcp], 7);
    expect(counters[layout.index('drop.notforus64')]).toBe(1);
    expect(written.length).toBe(3);
    const [a, b, c] = written.map((frame) => {
      expect(frame.subarray(0, VNET)).toEqual(Buffer.alloc(VNET));
      const packet = frame.subarray(VNET);
      expect(checkPacket(packet)).toEqual([]);
      return packet;
    });
    expect(a[0] >> 4).toBe(6);
    expect(formatIpv6(a, 8)).toBe(formatIpv6(parseIpv6('2001:db8:1:464::1')));
    expect(a.readUInt16BE(40)).toBe(1000);
    expect(a.readUInt16BE(42)).toBe(53);
    expect(b[0] >> 4).toBe(4);
    expect([b[12], b[13], b[14], b[15], b[16], b[17], b[18], b[19]]).toEqual([198, 51, 100, 2, 192, 0, 0, 1]);
    expect([b.readUInt16BE(20), b.readUInt16BE(22)]).toEqual([53, 1000]);
    expect(b.subarray(28)).toEqual(Buffer.alloc(300, 0x42));
    expect(c[0] >> 4).toBe(6);
    expect(formatIpv6(c, 24)).toBe(formatIpv6(parseIpv6('64:ff9b::198.51.100.3')));
    expect(c.subarray(60)).toEqual(Buffer.alloc(150, 0x43));
  });

  it('spreads the fragments of one translated packet apart, each intact behind a zeroed virtio header', () => {
    const { feed, written } = translatorBatch();
    // 1400 bytes without DF: the translator fragments it to the 1280-byte lowest IPv6 MTU.
    const packet = ipv4({
      src: '192.0.0.1',
      dst: '198.51.100.2',
      df: false,
      id: 77,
      payload: udp({ srcPort: 1, dstPort: 2, payload: Buffer.alloc(1372, 0x5a) }),
    });
    feed(Buffer.alloc(VNET), packet);
    expect(written.length).toBe(2);
    let payloadBytes = 0;
    for (const frame of written) {
      expect(frame.subarray(0, VNET)).toEqual(Buffer.alloc(VNET));
      const p6 = frame.subarray(VNET);
      expect(p6[0] >> 4).toBe(6);
      expect(p6.readUInt16BE(4) + 40).toBe(p6.length);
      expect(p6[6]).toBe(44);
      expect(formatIpv6(p6, 24)).toBe(formatIpv6(parseIpv6('64:ff9b::c633:6402')));
      expect(checkPacket(p6)).toEqual([]);
      payloadBytes += p6.length - 48;
    }
    expect(payloadBytes).toBe(8 + 1372);
  });

  it('writes a zeroed virtio header before a plain packet even where a super-packet left a GSO header in the output', () => {
    const { feed, written } = translatorBatch();
    const packet = ipv4({
      src: '192.0.0.1',
      dst: '198.51.100.2',
      df: true,
      payload: tcp({ srcPort: 40000, dstPort: 80, payload: Buffer.alloc(4000, 0x33) }),
    });
    const header = Buffer.alloc(VNET);
    header[0] = VnetFlag.needsCsum;
    header[1] = VnetGso.tcpv4;
    header.writeUInt16LE(40, 2);
    header.writeUInt16LE(1448, 4);
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(16, 8);
    feed(header, packet); // a batch of its own: written at the output's first bytes
    const plain = ipv4({ src: '192.0.0.1', dst: '198.51.100.2', payload: udp({ srcPort: 1, dstPort: 2 }) });
    feed(Buffer.alloc(VNET), plain); // the next batch reuses those bytes
    expect(written.length).toBe(2);
    expect(readVnetHeader(written[0], 0, createVnetHeader()).gsoType).toBe(VnetGso.tcpv6);
    expect(written[1].subarray(0, VNET)).toEqual(Buffer.alloc(VNET));
    expect(checkPacket(written[1].subarray(VNET))).toEqual([]);
  });

  it('translates a TCP super-packet once, keeping its partial checksum partial and its GSO type for IPv6', () => {
    const { feed, written, counters, layout } = translatorBatch();
    const data = Buffer.alloc(20_000, 0x33);
    const packet = ipv4({
      src: '192.0.0.1',
      dst: '198.51.100.2',
      df: true,
      payload: tcp({ srcPort: 40000, dstPort: 80, payload: data }),
    });
    // Make it what the kernel hands over: CHECKSUM_PARTIAL (pseudo-header sum, not complemented).
    const l4Length = packet.length - 20;
    const pseudo = fold(
      packet.readUInt16BE(12) +
        packet.readUInt16BE(14) +
        packet.readUInt16BE(16) +
        packet.readUInt16BE(18) +
        6 +
        l4Length,
    );
    packet.writeUInt16BE(pseudo, 20 + 16);
    const header = Buffer.alloc(VNET);
    header[0] = VnetFlag.needsCsum;
    header[1] = VnetGso.tcpv4;
    header.writeUInt16LE(40, 2); // hdr_len
    header.writeUInt16LE(1448, 4); // gso_size
    header.writeUInt16LE(20, 6); // csum_start
    header.writeUInt16LE(16, 8); // csum_offset
    feed(header, packet);
    expect(written.length).toBe(1);
    expect(counters[layout.index('rx.superpackets')]).toBe(1);
    const out = written[0];
    const vnet = readVnetHeader(out, 0, createVnetHeader());
    expect(vnet.gsoType).toBe(VnetGso.tcpv6);
    expect(vnet.csumStart).toBe(40);
    expect(vnet.hdrLen).toBe(60);
    expect(vnet.gsoSize).toBeLessThanOrEqual(1500 - 60);
    const p6 = out.subarray(VNET);
    expect(p6.length).toBe(packet.length + 20);
    const expectedPartial = fold(pseudo6Sum(p6.subarray(8, 24), p6.subarray(24, 40), 6, l4Length));
    expect(p6.readUInt16BE(40 + 16)).toBe(expectedPartial);
    expect(p6.subarray(60)).toEqual(data);
  });
});

describe('batch translator with a NAT64 rewrite', () => {
  it('regression: a super-packet whose ports the NAT rewrote gets the new pseudo-header sum only, not the port change', async () => {
    const { createStatefulTranslator, XlatTuple } = await import('../../xlat/src/index.js');
    const stateful = createStatefulTranslator({
      prefix: '64:ff9b::/96',
      allowNonGlobalIpv4: true,
      mtu4: 65535,
      mtu6: 65535,
      lowestIpv6Mtu: 65535,
    });
    const tuple = new XlatTuple();
    tuple.src4 = (203 << 24) | (0 << 16) | (113 << 8) | 7;
    tuple.srcPort = 61000; // the pool port: differs from the subscriber's 40000
    tuple.dst4 = (198 << 24) | (51 << 16) | (100 << 8) | 2;
    tuple.dstPort = 80;
    const layout = roleCounterLayout([]);
    const written: Buffer[] = [];
    const batch = new BatchTranslator(
      {
        result: stateful.result,
        process: (input, start, length, output, outStart) =>
          stateful.v6ToV4(input, output, tuple, start, length, outStart),
        reasonCounter: () => 0,
      },
      {
        fd: 3,
        vnetHdrBytes: VNET,
        mtu4: 1500,
        mtu6: 1500,
        counters: new Float64Array(layout.allocate()),
        layout,
        writer: {
          writeBatch(_fd, buffer, offsets, lengths, count) {
            for (let i = 0; i < count; i++)
              written.push(Buffer.from(buffer.subarray(offsets[i], offsets[i] + lengths[i])));
            return count;
          },
        },
      },
    );
    const { ipv6: build6 } = await import('../../../test/support/build.js');
    const data = Buffer.alloc(30_000, 0x44);
    const packet = build6({
      src: '2001:db8:1::2',
      dst: '64:ff9b::c633:6402',
      payload: tcp({ srcPort: 40000, dstPort: 80, payload: data }),
    });
    const l4Length = packet.length - 40;
    packet.writeUInt16BE(
      fold(pseudo6Sum(packet.subarray(8, 24), packet.subarray(24, 40), 6, l4Length)),
      40 + 16,
    );
    const header = Buffer.alloc(VNET);
    header[0] = VnetFlag.needsCsum;
    header[1] = VnetGso.tcpv6;
    header.writeUInt16LE(60, 2);
    header.writeUInt16LE(1428, 4);
    header.writeUInt16LE(40, 6);
    header.writeUInt16LE(16, 8);
    const buffer = Buffer.concat([header, packet]);
    batch.onBatch(buffer, Uint32Array.of(0), Uint32Array.of(buffer.length), 1);
    const p4 = written[0].subarray(VNET);
    expect(p4.readUInt16BE(20)).toBe(61000);
    const vnet = readVnetHeader(written[0], 0, createVnetHeader());
    expect(vnet.gsoType).toBe(VnetGso.tcpv4);
    expect(vnet.csumStart).toBe(20);
    const pseudo4 = fold(
      p4.readUInt16BE(12) + p4.readUInt16BE(14) + p4.readUInt16BE(16) + p4.readUInt16BE(18) + 6 + l4Length,
    );
    expect(p4.readUInt16BE(20 + 16)).toBe(pseudo4);
  });
});

describe('batch translator counters', () => {
  it('regression: an ICMP error the translator sends back charges its reason and tx.replies, not the translated counters', () => {
    const { feed, written, counters, layout } = translatorBatch();
    feed(
      Buffer.alloc(VNET),
      ipv4({ src: '192.0.0.1', dst: '198.51.100.2', ttl: 1, payload: udp({ payload: Buffer.from('x') }) }),
    );
    expect(written).toHaveLength(1);
    expect(counters[layout.index('tx.replies')]).toBe(1);
    expect(counters[layout.index('drop.ttl46')]).toBe(1);
    expect(counters[layout.index('tx.packets46')]).toBe(0);
    expect(counters[layout.index('tx.packets64')]).toBe(0);
  });
});
