// A PREF64 change reaches a running CLAT queue without a restart: after the main thread publishes a
// new prefix in the shared slot, the queue handler's next batch leaves through the new prefix,
// replies from the previous prefix are still translated (and counted) while it drains, and once
// the drain ends they are dropped; the slot never hands out half of an update.
import { describe, expect, it } from 'vitest';
import type { QueueContext } from '../../../libs/tun/src/index.js';
import { parseIpv6Address } from '../../../libs/xlat/src/index.js';
import { formatIpv6, ipv4, ipv6, parseIpv6, udp } from '../../../test/support/build.js';
import { checkPacket } from '../../../test/support/wellformed.js';
import { PrefixSlot } from '../src/prefix-slot.js';
import { type ClatQueueOptions, createQueueHandler } from '../src/queue-handler.js';
import { clatCounterLayout } from '../src/step.js';

const VNET = 10;
const prefix = (text: string) => {
  const [address, length] = text.split('/');
  return { address: parseIpv6Address(address)!, length: Number(length) };
};

async function queue() {
  const layout = clatCounterLayout();
  const counters = layout.allocate();
  const slot = new PrefixSlot();
  const written: Buffer[] = [];
  const options: ClatQueueOptions = {
    translator: {
      prefix: '64:ff9b::/96',
      allowNonGlobalIpv4: true,
      eam: [{ ipv4: '192.0.0.1/32', ipv6: '2001:db8:1:464::1/128' }],
    },
    ipv6Address: '2001:db8:1:464::1',
    icmpErrorsPerSecond: 1000,
    icmpErrorsBurst: 50,
    mtu6: 1500,
    mtu4: 1500,
    counters: [counters],
    prefixSlot: slot.buffer,
  };
  const context = {
    queueIndex: 0,
    queueCount: 1,
    fd: 3,
    fds: [3],
    extraFds: [],
    deviceName: 'clat',
    vnetHdrBytes: VNET,
    offloads: 0,
    options,
    tun: {
      writeBatch(_fd: number, buffer: Buffer, offsets: Uint32Array, lengths: Uint32Array, count: number) {
        for (let i = 0; i < count; i++)
          written.push(Buffer.from(buffer.subarray(offsets[i] + VNET, offsets[i] + lengths[i])));
        return count;
      },
    },
  } as unknown as QueueContext;
  const handler = await createQueueHandler(context);
  const send = (packet: Buffer) => {
    written.length = 0;
    handler.onBatch(
      Buffer.concat([Buffer.alloc(VNET), packet]),
      Uint32Array.of(0),
      Uint32Array.of(VNET + packet.length),
      1,
    );
    return written.slice();
  };
  const count = (name: string) => new Float64Array(counters)[layout.index(name)];
  return { slot, send, count };
}

const out4 = ipv4({ src: '192.0.0.1', dst: '198.51.100.2', payload: udp({ srcPort: 1000, dstPort: 53 }) });
const replyFrom = (source: string) =>
  ipv6({
    src: source,
    dst: '2001:db8:1:464::1',
    payload: udp({ srcPort: 53, dstPort: 1000, payload: Buffer.alloc(20, 1) }),
  });

describe('PREF64 swap in a running queue', () => {
  it('moves new packets to the published prefix and drains replies from the previous one', async () => {
    const { slot, send, count } = await queue();
    // Before anything is published: the configured prefix.
    let [packet] = send(out4);
    expect(formatIpv6(packet, 24)).toBe(formatIpv6(parseIpv6('64:ff9b::c633:6402')));

    slot.publish(prefix('2001:db8:64::/96'), prefix('64:ff9b::/96'));
    [packet] = send(out4);
    expect(checkPacket(packet)).toEqual([]);
    expect(formatIpv6(packet, 24)).toBe(formatIpv6(parseIpv6('2001:db8:64::c633:6402')));
    expect(count('prefix.swaps')).toBe(1);
    // Replies from both prefixes come back as IPv4 from 198.51.100.2; the old one's are counted.
    for (const source of ['2001:db8:64::c633:6402', '64:ff9b::c633:6402']) {
      const [reply] = send(replyFrom(source));
      expect(reply[0] >> 4, source).toBe(4);
      expect([...reply.subarray(12, 20)], source).toEqual([198, 51, 100, 2, 192, 0, 0, 1]);
    }
    expect(count('prefix.drained64')).toBe(1);

    // Drain over: the old prefix's replies are no longer translated.
    slot.publish(prefix('2001:db8:64::/96'), null);
    expect(send(replyFrom('64:ff9b::c633:6402'))).toEqual([]);
    expect(count('prefix.drained64')).toBe(1);
    expect(count('prefix.swaps')).toBe(2);
    expect(send(replyFrom('2001:db8:64::c633:6402')).length).toBe(1);
  });

  it('reads a consistent pair from the slot and a new sequence after every publish', () => {
    const slot = new PrefixSlot();
    expect(slot.read()).toBeNull();
    const first = slot.publish(prefix('64:ff9b::/96'), null);
    expect(first % 2).toBe(0);
    const second = slot.publish(prefix('2001:db8:64::/64'), prefix('64:ff9b::/96'));
    expect(second).toBeGreaterThan(first);
    const contents = slot.read()!;
    expect(contents.sequence).toBe(second);
    expect(contents.active.length).toBe(64);
    expect(formatIpv6(contents.active.address)).toBe(formatIpv6(parseIpv6('2001:db8:64::')));
    expect(contents.previous?.length).toBe(96);
    // Another view on the same memory (as a worker has) sees the same.
    expect(new PrefixSlot(slot.buffer).read()).toEqual(contents);
  });
});
