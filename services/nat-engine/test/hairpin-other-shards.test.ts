// RFC 6146 sec. 3.8 hairpinning between subscribers of two shards of one node: the sender's engine
// cannot run the IPv4 leg (the receiver's mapping is the other engine's), so with hairpinToOtherShards it
// lets the packet leave as IPv4 to the pool address, and the receiver's engine translates it as an
// incoming packet; without the option the hairpin is dropped as before.
import { describe, expect, it } from 'vitest';
import {
  CountingEventSink,
  createFlowKey4,
  createFlowKey6,
  createNatEngine,
  createSeededRandom,
  createSharedPoolMemory,
  EngineVerdict,
  Protocol,
  sharedPoolAllocator,
  validateConfig,
} from '../src/index.js';

const config = { pool: ['203.0.113.0/29'] };

function engines(hairpinToOtherShards: boolean) {
  const memory = createSharedPoolMemory(validateConfig(config));
  return [0, 1].map((shard) =>
    createNatEngine(config, {
      sink: new CountingEventSink(),
      random: createSeededRandom(shard + 5),
      startMs: 0,
      shard,
      allocator: sharedPoolAllocator(memory, shard),
      hairpinToOtherShards,
    }),
  );
}

function udp6(subscriberWord: number, srcPort: number, dst4: number, dstPort: number) {
  const key = createFlowKey6();
  key.protocol = Protocol.Udp;
  key.src6.set([0x20010db8, subscriberWord, 0, 1]);
  key.srcPort = srcPort;
  key.dst4 = dst4;
  key.dstPort = dstPort;
  return key;
}

describe('hairpinning across the shards of one node', () => {
  it("sends a hairpin to another shard's mapping out as IPv4 to the pool address, which that shard translates to its subscriber", () => {
    // Proves both legs happen, each in the engine holding its mapping.
    const [a, b] = engines(true);
    // Subscriber B (shard 1) talks to the Internet first: its mapping is the hairpin's target.
    expect(b.outbound6(udp6(0x0200, 5000, 0xc6336402, 53), 0)).toBe(EngineVerdict.Translate);
    const target4 = b.result.v4Src;
    const targetPort = b.result.v4SrcPort;
    // Subscriber A (shard 0) sends to B's pool address and port.
    expect(a.outbound6(udp6(0x0100, 6000, target4, targetPort), 10)).toBe(EngineVerdict.Translate);
    expect(a.result.hairpin).toBe(false);
    expect(a.result.v4Dst).toBe(target4);
    expect(a.result.v4DstPort).toBe(targetPort);
    // The node routes that IPv4 packet back in, to shard 1 (the block's): B's engine translates it.
    const key4 = createFlowKey4();
    key4.protocol = Protocol.Udp;
    key4.src4 = a.result.v4Src;
    key4.srcPort = a.result.v4SrcPort;
    key4.dst4 = target4;
    key4.dstPort = targetPort;
    expect(b.inbound4(key4, 20)).toBe(EngineVerdict.Translate);
    expect(b.result.v6Port).toBe(5000);
    expect(Array.from(b.result.v6)).toEqual([0x20010db8, 0x0200, 0, 1]); // subscriber B
  });

  it('drops the same hairpin when the engine is alone (the target cannot exist)', () => {
    // Proves the option is what lets it out: a lone engine keeps the RFC 6146 sec. 3.8 drop.
    const [a, b] = engines(false);
    expect(b.outbound6(udp6(0x0200, 5000, 0xc6336402, 53), 0)).toBe(EngineVerdict.Translate);
    expect(a.outbound6(udp6(0x0100, 6000, b.result.v4Src, b.result.v4SrcPort), 10)).toBe(EngineVerdict.Drop);
  });
});
