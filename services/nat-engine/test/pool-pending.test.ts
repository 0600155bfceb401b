// An allocator that has no block yet but is fetching one (POOL_PENDING, a cluster node's Redis reserve
// being refilled): the engine drops the packet quietly — no ICMP error, which would end a TCP connect at
// once, and no limit reported — counted as poolpending64; the retransmission, once the block is there, is
// translated. A real exhaustion (-1) still gets the ICMPv6 address-unreachable reply.
import { describe, expect, it } from 'vitest';
import {
  ArrayEventSink,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  EngineDropReason,
  EngineVerdict,
  InProcessPoolAllocator,
  NatEventType,
  POOL_PENDING,
  type PoolAllocator,
  Protocol,
  TcpFlag,
} from '../src/index.js';

/** The in-process allocator behind a switch: answers `answer` while it is set. */
class SwitchedAllocator implements PoolAllocator {
  answer: number | null = POOL_PENDING;
  constructor(private readonly inner: PoolAllocator) {}
  tryLease(subscriber: Uint32Array, slot: number, preferred: number, nowMs: number): number {
    return this.answer ?? this.inner.tryLease(subscriber, slot, preferred, nowMs);
  }
  released(block: number, nowMs: number): void {
    this.inner.released(block, nowMs);
  }
}

function syn() {
  const key = createFlowKey6();
  key.protocol = Protocol.Tcp;
  key.src6.set([0x20010db8, 0x100, 0, 1]);
  key.srcPort = 40000;
  key.dst4 = 0xc6336402;
  key.dstPort = 443;
  key.tcpFlags = TcpFlag.Syn;
  return key;
}

describe('a block on its way (POOL_PENDING)', () => {
  it('drops the first SYN without an ICMP error or a limit event, then translates its retransmission', () => {
    const sink = new ArrayEventSink();
    let allocator: SwitchedAllocator | null = null;
    const engine = createNatEngine(
      { pool: ['203.0.113.0/30'] },
      {
        sink,
        random: createSeededRandom(1),
        startMs: 0,
        allocator: (state, random) => {
          allocator = new SwitchedAllocator(new InProcessPoolAllocator(state, random));
          return allocator;
        },
      },
    );
    engine.start(0);
    expect(engine.outbound6(syn(), 10)).toBe(EngineVerdict.Drop);
    expect(engine.result.reason).toBe(EngineDropReason.poolpending64);
    expect(engine.dropCounters[EngineDropReason.poolpending64]).toBe(1);
    expect(engine.dropCounters[EngineDropReason.poolexhausted64]).toBe(0);
    engine.flush(10);
    expect(sink.events.filter((e) => e.type === NatEventType.LimitReached)).toEqual([]);
    expect(engine.state.mappingCount).toBe(0);
    // The block arrived: the retransmitted SYN (a second later) gets a mapping.
    allocator!.answer = null;
    expect(engine.outbound6(syn(), 1010)).toBe(EngineVerdict.Translate);
    // A real exhaustion keeps its reply.
    allocator!.answer = -1;
    const other = syn();
    other.src6.set([0x20010db8, 0x200, 0, 1]);
    expect(engine.outbound6(other, 1020)).toBe(EngineVerdict.ReplyIcmp);
    expect(engine.result.reason).toBe(EngineDropReason.poolexhausted64);
  });
});
