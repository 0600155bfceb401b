// The PLAT's ingress treatment of one packet from its TUN (RFC 6146 sec. 3.4, "determining the
// incoming tuple"): classify it (version, router solicitations, not for the PREF64), extract its flow
// key straight into the engine's key, keep the tuples of fragmented datagrams (the fragment table must
// sit before shard routing: later fragments carry no ports), then hand the packet to the shard
// pipeline (services/nat-engine pipeline/: engine, RFC 7915 rewrite, hairpin, held SYNs, ICMP errors).

import type { CounterLayout, PacketStep } from '../../../libs/dataplane/src/index.js';
import { translatorDropBase } from '../../../libs/dataplane/src/index.js';
import { Icmp6Type, Protocol } from '../../../libs/packet/src/index.js';
import {
  DropReason,
  extractFlowKey4,
  extractFlowKey6,
  FlowKey,
  isGlobalIpv4,
  type Rfc6052Prefix,
  type TranslationResult,
  Verdict,
  XlatTuple,
} from '../../../libs/xlat/src/index.js';
import {
  bytesFromWords,
  createFlowKey4,
  createFlowKey6,
  EngineVerdict,
  type FlowKey4,
  type FlowKey6,
  type NatEngine,
  ShardPipeline,
  type ShardPipelineOptions,
  shardPipelineDropNames,
} from '../../nat-engine/src/index.js';
import { FragmentTable } from './fragment-table.js';
import { NO_TENANT, type TenantPrefixTable } from './tenants/tenant-lpm.js';
import { createTenantStatsMemory, TENANT_STAT_ENTRIES, TenantStat } from './tenants/tenant-stats.js';

export const platDropNames = [
  'version',
  'routersolicitation',
  'notforus64',
  'fragment64',
  'fragment46',
  ...shardPipelineDropNames,
  'notenant64',
] as const;

export interface PlatStepOptions {
  /** Translate to IPv4 destinations that are not global inside the well-known prefix (RFC 6052 sec. 3.1). */
  allowNonGlobalIpv4?: boolean;
  /** The tenants' prefixes: an IPv6 source of no tenant is dropped (drop.notenant64). Absent: any source. */
  tenants?: TenantPrefixTable;
  /** Where the per-tenant figures go (a worker's row, tenants/tenant-stats.ts); absent: a row of the step's own. */
  tenantStats?: SharedArrayBuffer;
}

const NO_REASON = 0;
/** Fragments of one datagram arrive within milliseconds; RFC 8200 sec. 4.5 reassembly allows 60 s. */
const FRAGMENT_LIFETIME_MS = 5000;

export class PlatStep implements PacketStep {
  private readonly prefix: Rfc6052Prefix;
  private readonly enforceGlobal: boolean;
  private readonly flow = new FlowKey();
  private readonly key6: FlowKey6 = createFlowKey6();
  private readonly key4: FlowKey4 = createFlowKey4();
  /** The tuple of a later fragment, from the fragment table. */
  private readonly tuple = new XlatTuple();
  private current: TranslationResult;
  private lastDrop = 0;
  private nowMs = 0;
  private readonly counterOf: (name: string) => number;
  private readonly c: {
    version: number;
    routerSolicitation: number;
    notForUs: number;
    fragment64: number;
    fragment46: number;
    noTenant: number;
    protocol64: number;
    protocol46: number;
  };
  /** Tuples of fragmented datagrams, from their first fragment (RFC 6146 sec. 3.4). */
  private readonly fragments = new FragmentTable(4096, FRAGMENT_LIFETIME_MS);
  private readonly fragmentValue = new Uint32Array(8);
  private readonly fragmentWords = new Uint32Array(4);
  private tenants: TenantPrefixTable | undefined;
  /** Per tenant slot, TENANT_STAT_ENTRIES figures (tenantCounterNames, then the worker's gauges). */
  readonly tenantCounters: Float64Array;

  constructor(
    readonly pipeline: ShardPipeline,
    layout: CounterLayout,
    prefix: Rfc6052Prefix,
    options: PlatStepOptions = {},
  ) {
    this.current = pipeline.result;
    this.prefix = prefix;
    this.enforceGlobal = prefix.isWellKnown && options.allowNonGlobalIpv4 !== true;
    this.counterOf = (name) => layout.index(`drop.${name}`);
    this.tenants = options.tenants;
    this.tenantCounters = new Float64Array(options.tenantStats ?? createTenantStatsMemory());
    this.c = {
      version: this.counterOf('version'),
      routerSolicitation: this.counterOf('routersolicitation'),
      notForUs: this.counterOf('notforus64'),
      fragment64: this.counterOf('fragment64'),
      fragment46: this.counterOf('fragment46'),
      noTenant: this.counterOf('notenant64'),
      protocol64: this.counterOf('nat.protocol64'),
      protocol46: this.counterOf('nat.protocol46'),
    };
  }

  get result(): TranslationResult {
    return this.current;
  }

  /**
   * The tenants' prefixes from the next packet on (a live change; undefined: any source). The table's
   * values are tenant slots, each with its row in `tenantCounters`.
   */
  setTenants(tenants: TenantPrefixTable | undefined): void {
    this.tenants = tenants;
  }

  /** The engine's time for the packets of the next batch. */
  setNow(nowMs: number): void {
    this.nowMs = nowMs;
    this.pipeline.setNow(nowMs);
  }

  reasonCounter(): number {
    return this.lastDrop;
  }

  process(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const version = length > 0 ? input[start] >> 4 : 0;
    if (version === 6) return this.outbound(input, start, length, output, outStart, superPacket);
    if (version === 4) return this.inbound(input, start, length, output, outStart, superPacket);
    return this.dropTo(this.c.version);
  }

  private outbound(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    if (length < 40) return this.dropTo(translatorDropBase + DropReason.truncated64);
    if (
      input[start + 6] === Protocol.Icmp6 &&
      length > 40 &&
      input[start + 40] === Icmp6Type.RouterSolicitation
    )
      return this.dropTo(this.c.routerSolicitation);
    if (!this.prefix.matches(input, start + 24)) return this.dropTo(this.c.notForUs);
    const tenants = this.tenants;
    if (tenants !== undefined) {
      // Only the tenants' subscribers are translated: anyone else routing to the exchange is not.
      const tenant = tenants.lookup(input, start + 8);
      if (tenant === NO_TENANT)
        return this.handedOver(
          this.pipeline.refuse6(this.c.noTenant, input, start, length, output, outStart),
        );
      const at = tenant * TENANT_STAT_ENTRIES;
      const counters = this.tenantCounters;
      counters[at + TenantStat.packets64]++;
      const verdict = this.outboundOfTenant(input, start, length, output, outStart, superPacket);
      if (verdict === Verdict.Translate) {
        counters[at + TenantStat.translated64]++;
        counters[at + TenantStat.bytes64] += length;
      } else counters[at + TenantStat.refused64]++;
      return verdict;
    }
    return this.outboundOfTenant(input, start, length, output, outStart, superPacket);
  }

  /** An outbound packet of a subscriber (of the tenant classified, if any). */
  private outboundOfTenant(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const flow = this.flow;
    const reason = extractFlowKey6(input, flow, start, length);
    if (reason !== NO_REASON) return this.dropTo(translatorDropBase + reason);
    const key = this.key6;
    if (flow.icmpError) {
      const inner = flow.inner;
      if (!inner.hasPorts || !this.prefix.matches(inner.src, 0)) return this.dropTo(this.c.fragment64);
      wordsFromBytes(inner.dst, key.src6);
      key.protocol = inner.protocol;
      key.srcPort = inner.dstPort;
      key.dst4 = this.prefix.extract(inner.src, 0) >>> 0;
      key.dstPort = inner.srcPort;
      key.tcpFlags = 0;
      key.icmpError = true;
    } else {
      if (flow.isFragment && flow.fragmentOffset !== 0)
        return this.laterFragment64(input, start, length, output, outStart);
      // No ports and not a later fragment: a protocol NAT64 does not carry (RFC 6146 sec. 3.5:
      // TCP, UDP and ICMP queries/errors only), e.g. an unknown ICMPv6 type or ICMPv4 inside IPv6.
      if (!flow.hasPorts) return this.dropTo(flow.isFragment ? this.c.fragment64 : this.c.protocol64);
      wordsFromBytes(flow.src, key.src6);
      key.protocol = flow.protocol;
      key.srcPort = flow.srcPort;
      key.dst4 = this.prefix.extract(flow.dst, 0) >>> 0;
      key.dstPort = flow.dstPort;
      key.tcpFlags = flow.tcpFlags;
      key.icmpError = false;
    }
    // Addresses cross calls as int32 (a uint32 above 2^31 is a heap number, allocated at every call V8
    // does not inline): `| 0` here and at each embed().
    if (this.enforceGlobal && !isGlobalIpv4(key.dst4 | 0))
      return this.dropTo(translatorDropBase + DropReason.dstaddr64);
    const pipeline = this.pipeline;
    const verdict = pipeline.outbound(key, input, start, length, output, outStart, superPacket);
    const r = pipeline.engine.result;
    if (flow.isFragment && !flow.icmpError && r.verdict === EngineVerdict.Translate && !r.hairpin) {
      const v = this.fragmentValue;
      v[0] = r.v4Src;
      v[1] = r.v4SrcPort;
      v[2] = r.v4Dst;
      v[3] = r.v4DstPort;
      this.fragments.add(flow, v, this.nowMs);
    }
    return this.handedOver(verdict);
  }

  private inbound(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
    superPacket: boolean,
  ): Verdict {
    const flow = this.flow;
    const reason = extractFlowKey4(input, flow, start, length);
    if (reason !== NO_REASON) return this.dropTo(translatorDropBase + reason);
    const key = this.key4;
    if (flow.icmpError) {
      const inner = flow.inner;
      if (!inner.hasPorts) return this.dropTo(this.c.fragment46);
      key.protocol = inner.protocol;
      key.src4 = inner.dst4 >>> 0;
      key.srcPort = inner.dstPort;
      key.dst4 = inner.src4 >>> 0;
      key.dstPort = inner.srcPort;
      key.tcpFlags = 0;
      key.icmpError = true;
    } else {
      if (flow.isFragment && flow.fragmentOffset !== 0)
        return this.laterFragment46(input, start, length, output, outStart);
      if (!flow.hasPorts) return this.dropTo(flow.isFragment ? this.c.fragment46 : this.c.protocol46);
      key.protocol = flow.protocol;
      key.src4 = flow.src4 >>> 0;
      key.srcPort = flow.srcPort;
      key.dst4 = flow.dst4 >>> 0;
      key.dstPort = flow.dstPort;
      key.tcpFlags = flow.tcpFlags;
      key.icmpError = false;
    }
    const pipeline = this.pipeline;
    const verdict = pipeline.inbound(key, input, start, length, output, outStart, superPacket);
    const r = pipeline.engine.result;
    // Return traffic belongs to the tenant of the subscriber its block maps to.
    if (
      this.tenants !== undefined &&
      r.verdict === EngineVerdict.Translate &&
      verdict === Verdict.Translate
    ) {
      const tenant = this.tenants.lookupWords(r.v6[0] | 0, r.v6[1] | 0);
      if (tenant !== NO_TENANT) {
        const at = tenant * TENANT_STAT_ENTRIES;
        this.tenantCounters[at + TenantStat.translated46]++;
        this.tenantCounters[at + TenantStat.bytes46] += length;
      }
    }
    if (flow.isFragment && !flow.icmpError && r.verdict === EngineVerdict.Translate) {
      const v = this.fragmentValue;
      v[0] = r.v4Src;
      v[1] = r.v4SrcPort;
      v[2] = r.v6[0];
      v[3] = r.v6[1];
      v[4] = r.v6[2];
      v[5] = r.v6[3];
      v[6] = r.v6Port;
      this.fragments.add(flow, v, this.nowMs);
    }
    return this.handedOver(verdict);
  }

  /** A non-first IPv6 fragment: the tuple its first fragment got, or a drop when it is unknown. */
  private laterFragment64(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
  ): Verdict {
    if (!this.fragments.find(this.flow, this.nowMs)) return this.dropTo(this.c.fragment64);
    const v = this.fragmentValue;
    this.fragments.copyValue(v);
    const tuple = this.tuple;
    tuple.src4 = v[0];
    tuple.srcPort = v[1];
    tuple.dst4 = v[2];
    tuple.dstPort = v[3];
    return this.handedOver(this.pipeline.rewrite6(tuple, input, start, length, output, outStart, false));
  }

  /** A non-first IPv4 fragment, likewise. */
  private laterFragment46(
    input: Uint8Array,
    start: number,
    length: number,
    output: Uint8Array,
    outStart: number,
  ): Verdict {
    if (!this.fragments.find(this.flow, this.nowMs)) return this.dropTo(this.c.fragment46);
    const v = this.fragmentValue;
    this.fragments.copyValue(v);
    const tuple = this.tuple;
    this.prefix.embed(v[0] | 0, tuple.src6, 0);
    tuple.srcPort = v[1];
    const words = this.fragmentWords;
    words[0] = v[2];
    words[1] = v[3];
    words[2] = v[4];
    words[3] = v[5];
    bytesFromWords(words, tuple.dst6);
    tuple.dstPort = v[6];
    return this.handedOver(this.pipeline.rewrite4(tuple, input, start, length, output, outStart, false));
  }

  /** The pipeline wrote the packet (or dropped it): its result and reason are the step's. */
  private handedOver(verdict: Verdict): Verdict {
    this.current = this.pipeline.result;
    if (verdict !== Verdict.Translate) this.lastDrop = this.pipeline.reasonCounter();
    return verdict;
  }

  private dropTo(counter: number): Verdict {
    this.lastDrop = counter;
    return Verdict.Drop;
  }
}

function wordsFromBytes(bytes: Uint8Array, words: Uint32Array): void {
  for (let i = 0; i < 4; i++) {
    const o = i * 4;
    words[i] = ((bytes[o] << 24) | (bytes[o + 1] << 16) | (bytes[o + 2] << 8) | bytes[o + 3]) >>> 0;
  }
}

/** One node's PLAT step over one engine: the shard pipeline over `engine`, and the ingress step feeding it. */
export function createPlatStep(
  engine: NatEngine,
  options: ShardPipelineOptions,
  layout: CounterLayout,
  prefix: Rfc6052Prefix,
  tenants?: { table: TenantPrefixTable; stats?: SharedArrayBuffer },
): PlatStep {
  const pipeline = new ShardPipeline(engine, options, layout, prefix);
  return new PlatStep(pipeline, layout, prefix, {
    allowNonGlobalIpv4: options.translator.allowNonGlobalIpv4,
    tenants: tenants?.table,
    tenantStats: tenants?.stats,
  });
}
