// The per-queue packet loop both roles share: takes a batch read from a TUN queue, handles the
// virtio_net_hdr (IFF_VNET_HDR) in front of each packet, runs each L3 packet through the role's
// PacketStep, and writes translated packets and ICMP replies back as one batch. A TCP super-packet
// (GSO) is translated once: its partial checksum stays partial (written afresh from the translated
// pseudo-header) and its vnet header is rewritten for the other family. No allocation per packet.
import {
  adjustVnetHeaderForFamily,
  clampVnetGsoSize,
  createVnetHeader,
  readVnetHeader,
  VnetAdjust,
  VnetFlag,
  VnetGso,
  type VnetHeader,
} from '../../tun/src/index.js';
import type { TranslationResult } from '../../xlat/src/index.js';
import { Verdict } from '../../xlat/src/index.js';
import type { CounterLayout } from './counters.js';

/** One role's treatment of one L3 packet (classification + translation). */
export interface PacketStep {
  readonly result: TranslationResult;
  /**
   * Handles the whole L3 packet `input[start, start + length)`, writing into `output` from
   * `outStart` on like the xlat Translator contract (libs/xlat/src/contract.ts): nothing outside the
   * packet is read, nothing outside `[outStart, outStart + result.length)` written, and
   * `output.length - outStart` is at least `length + 2048`. The batch loop passes its batch buffers
   * themselves, so no view is made per packet. `superPacket` is true for a GSO packet: it must be
   * translated whole (no MTU checks, no fragmentation) with its checksum field updated
   * incrementally. Returns a Verdict.
   */
  process(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict;
  /**
   * For a Drop or a ReplyIcmp: the counter of its reason (e.g. "drop.notforus64", or
   * "drop.hoplimit64" for the time-exceeded reply); the translator's reasons map to
   * "drop.<reason name>". Called right after process(), so it may look at the step's own state.
   */
  reasonCounter(): number;
}

/** The counters every role has, in this order at the start of its layout. */
export const baseCounterNames = [
  'rx.packets',
  'rx.bytes',
  'tx.packets46',
  'tx.bytes46',
  'tx.packets64',
  'tx.bytes64',
  'tx.replies',
  'tx.refused',
  'rx.superpackets',
  'drop.vnetheader',
] as const;

const RX_PACKETS = 0;
const RX_BYTES = 1;
const TX_PACKETS46 = 2;
const TX_BYTES46 = 3;
const TX_PACKETS64 = 4;
const TX_BYTES64 = 5;
const TX_REPLIES = 6;
const TX_REFUSED = 7;
const RX_SUPERPACKETS = 8;
const DROP_VNET = 9;

export interface BatchWriter {
  writeBatch(
    fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    count: number,
  ): number;
}

export interface BatchTranslatorOptions {
  fd: number;
  writer: BatchWriter;
  vnetHdrBytes: number;
  /** MTU of the IPv6 side: super-packets translated to IPv6 get segments that fit it. */
  mtu6: number;
  /** MTU of the IPv4 side, likewise. */
  mtu4: number;
  counters: Float64Array;
  layout: CounterLayout;
  outputBytes?: number;
  outputPacketsMax?: number;
}

/** Room the xlat contract asks for beyond the input length. */
const OUTPUT_SLACK_BYTES = 2048;

export class BatchTranslator {
  private readonly out: Buffer;
  private readonly outOffsets: Uint32Array;
  private readonly outLengths: Uint32Array;
  private outCount = 0;
  private outPosition = 0;
  private readonly header = createVnetHeader();

  constructor(
    private readonly step: PacketStep,
    private readonly options: BatchTranslatorOptions,
  ) {
    this.out = Buffer.alloc(options.outputBytes ?? 4 << 20);
    const packetsMax = options.outputPacketsMax ?? 4096;
    this.outOffsets = new Uint32Array(packetsMax);
    this.outLengths = new Uint32Array(packetsMax);
  }

  onBatch(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number): void {
    for (let i = 0; i < count; i++) this.handle(buffer, offsets[i], lengths[i]);
    this.flush();
  }

  /** Writes the pending output batch to the TUN queue. */
  flush(): void {
    if (this.outCount === 0) return;
    const sent = this.options.writer.writeBatch(
      this.options.fd,
      this.out,
      this.outOffsets,
      this.outLengths,
      this.outCount,
    );
    this.options.counters[TX_REFUSED] += this.outCount - sent;
    this.outCount = 0;
    this.outPosition = 0;
  }

  private handle(buffer: Uint8Array, offset: number, length: number): void {
    const counters = this.options.counters;
    const vnet = this.options.vnetHdrBytes;
    counters[RX_PACKETS]++;
    counters[RX_BYTES] += length;
    if (length < vnet) {
      counters[DROP_VNET]++;
      return;
    }
    let superPacket = false;
    if (vnet > 0) {
      const header = readVnetHeader(buffer, offset, this.header);
      if ((header.gsoType & ~VnetGso.ecn) !== VnetGso.none) {
        superPacket = true;
        counters[RX_SUPERPACKETS]++;
        if (header.csumStart + header.csumOffset + 2 > length - vnet) {
          counters[DROP_VNET]++;
          return;
        }
      } else if ((header.flags & VnetFlag.needsCsum) !== 0) {
        if (!finishChecksum(buffer, offset + vnet, length - vnet, header.csumStart, header.csumOffset)) {
          counters[DROP_VNET]++;
          return;
        }
      }
    }
    const l3Length = length - vnet;
    if (this.out.length - this.outPosition < l3Length + OUTPUT_SLACK_BYTES + 64 * vnet) this.flush();
    if (this.outCount + 64 > this.outOffsets.length) this.flush();
    const start = this.outPosition;
    const verdict = this.step.process(buffer, offset + vnet, l3Length, this.out, start + vnet, superPacket);
    if (verdict === Verdict.Drop) {
      counters[this.step.reasonCounter()]++;
      return;
    }
    const result = this.step.result;
    if (verdict === Verdict.ReplyIcmp) {
      counters[TX_REPLIES]++;
      counters[this.step.reasonCounter()]++;
      this.emitPlain(start, vnet, result.lengths[0], false);
      return;
    }
    if (superPacket) {
      this.emitSuperPacket(buffer, offset, start, vnet, l3Length, result.lengths[0]);
      return;
    }
    if (result.count === 1) {
      this.emitPlain(start, vnet, result.lengths[0]);
      return;
    }
    // Fragments were written back to back; open a gap for each one's vnet header, last first.
    let total = 0;
    for (let k = 0; k < result.count; k++) total += result.lengths[k];
    // Packet k ends up at start + (k + 1) * vnet + (lengths of the packets before it).
    let end = start + total + result.count * vnet;
    let source = start + vnet + total;
    for (let k = result.count - 1; k >= 0; k--) {
      const len = result.lengths[k];
      source -= len;
      end -= len;
      this.out.copyWithin(end, source, source + len);
      end -= vnet;
    }
    let position = start;
    for (let k = 0; k < result.count; k++) {
      this.emitPlain(position, vnet, result.lengths[k]);
      position += vnet + result.lengths[k];
    }
  }

  /** Queues a packet the role originated outside a batch (e.g. an ICMP error for a held SYN). */
  enqueue(packet: Uint8Array): void {
    const vnet = this.options.vnetHdrBytes;
    if (
      this.out.length - this.outPosition < packet.length + vnet ||
      this.outCount === this.outOffsets.length
    ) {
      this.flush();
    }
    const position = this.outPosition;
    this.out.set(packet, position + vnet);
    this.options.counters[TX_REPLIES]++;
    this.emitPlain(position, vnet, packet.length, false);
  }

  private emitPlain(position: number, vnet: number, l3Length: number, translated = true): void {
    // A byte loop, not Buffer#fill: for a 10-byte header node's fill (argument checks, _fill) cost ~5 %
    // of an established packet's whole batch path (cpu profile of `npm run bench -- batch-translator`).
    const out = this.out;
    for (let i = position; i < position + vnet; i++) out[i] = 0;
    this.record(position, vnet, l3Length, translated);
  }

  private emitSuperPacket(
    input: Uint8Array,
    inputOffset: number,
    position: number,
    vnet: number,
    inputL3Length: number,
    l3Length: number,
  ): void {
    const out = this.out;
    for (let i = 0; i < vnet; i++) out[position + i] = input[inputOffset + i];
    const toFamily = out[position + vnet] >> 4 === 6 ? 6 : 4;
    if (adjustVnetHeaderForFamily(out, position, toFamily, l3Length - inputL3Length) !== VnetAdjust.ok) {
      this.options.counters[DROP_VNET]++;
      return;
    }
    const header = readVnetHeader(out, position, this.header);
    const mtu = toFamily === 6 ? this.options.mtu6 : this.options.mtu4;
    clampVnetGsoSize(out, position, mtu - header.hdrLen);
    if (header.csumStart + header.csumOffset + 2 > l3Length) {
      this.options.counters[DROP_VNET]++;
      return;
    }
    writePartialChecksum(out, position + vnet, l3Length, header);
    this.record(position, vnet, l3Length);
  }

  /** Queues one output packet; `translated` false for replies the role originated (tx.replies only). */
  private record(position: number, vnet: number, l3Length: number, translated = true): void {
    const counters = this.options.counters;
    const length = vnet + l3Length;
    this.outOffsets[this.outCount] = position;
    this.outLengths[this.outCount] = length;
    this.outCount++;
    this.outPosition = position + length;
    if (!translated) return;
    if (this.out[position + vnet] >> 4 === 6) {
      counters[TX_PACKETS46]++;
      counters[TX_BYTES46] += l3Length;
    } else {
      counters[TX_PACKETS64]++;
      counters[TX_BYTES64] += l3Length;
    }
  }
}

/**
 * A super-packet's L4 checksum field holds the pseudo-header sum, folded and not complemented
 * (CHECKSUM_PARTIAL); whoever segments it sums from csumStart over the L4 header and data. After
 * translation the field must be the *new* pseudo-header sum, and nothing else: the ports a NAT64
 * rewrote lie inside the summed range, so an incremental update that also folded in the port
 * change would count it twice. So the field is written afresh from the translated headers.
 */
function writePartialChecksum(packet: Uint8Array, start: number, l3Length: number, header: VnetHeader): void {
  const l4Length = l3Length - header.csumStart;
  const protocol = (header.gsoType & ~VnetGso.ecn) === VnetGso.udpL4 ? 17 : 6;
  let sum = protocol + (l4Length >>> 16) + (l4Length & 0xffff);
  const [from, to] = packet[start] >> 4 === 6 ? [8, 40] : [12, 20];
  for (let i = start + from; i < start + to; i += 2) sum += (packet[i] << 8) | packet[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const at = start + header.csumStart + header.csumOffset;
  packet[at] = sum >> 8;
  packet[at + 1] = sum & 0xff;
}

/** Completes a partial checksum in software (a non-GSO packet the kernel left unfinished). */
function finishChecksum(
  packet: Uint8Array,
  start: number,
  length: number,
  csumStart: number,
  csumOffset: number,
): boolean {
  if (csumStart + csumOffset + 2 > length) return false;
  let sum = 0;
  const end = start + length;
  let i = start + csumStart;
  for (; i + 1 < end; i += 2) sum += (packet[i] << 8) | packet[i + 1];
  if (i < end) sum += packet[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  let check = ~sum & 0xffff;
  // A UDP checksum that computes to 0 is sent as 0xffff (RFC 768); for TCP the two are equal in
  // ones' complement arithmetic, so this is safe for both.
  if (check === 0) check = 0xffff;
  const at = start + csumStart + csumOffset;
  packet[at] = check >> 8;
  packet[at + 1] = check & 0xff;
  return true;
}
