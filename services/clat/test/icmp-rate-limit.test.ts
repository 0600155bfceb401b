// Proves the CLAT sends the ICMP errors its translator answers with (here ICMPv4 Time Exceeded for
// TTL 1) at most at the configured rate (RFC 4443 sec. 2.4 (f), RFC 1812 sec. 4.3.2.8), drops the
// others under their own reason without writing them, and counts them as suppressed.
import { describe, expect, it } from 'vitest';
import { Verdict } from '../../../libs/xlat/src/index.js';
import { ipv4, udp } from '../../../test/support/build.js';
import { ClatStep, clatCounterLayout } from '../src/step.js';

describe('CLAT ICMP error rate limit', () => {
  it('burst 2 at 1 per second: 2 of 5 TTL-1 packets answered at once, then one per second; nothing written for the suppressed ones', () => {
    const layout = clatCounterLayout();
    const step = new ClatStep(
      {
        translator: {
          prefix: '64:ff9b::/96',
          allowNonGlobalIpv4: true,
          eam: [{ ipv4: '192.0.0.1/32', ipv6: '2001:db8:1:464::1/128' }],
        },
        ipv6Address: '2001:db8:1:464::1',
        icmpErrorsPerSecond: 1,
        icmpErrorsBurst: 2,
      },
      layout,
    );
    const packet = ipv4({
      src: '192.0.0.1',
      dst: '198.51.100.2',
      ttl: 1,
      payload: udp({ srcPort: 1, dstPort: 53 }),
    });
    const out = Buffer.alloc(4096, 0xa5);
    const send = (nowMs: number) => {
      step.setNow(nowMs);
      out.fill(0xa5);
      const verdict = step.process(packet, 0, packet.length, out, 0, false);
      if (verdict === Verdict.Drop)
        expect(
          out.every((b) => b === 0xa5),
          'a drop writes nothing',
        ).toBe(true);
      else expect([out[0] >> 4, out[20], out[21]]).toEqual([4, 11, 0]);
      return verdict;
    };
    expect([send(0), send(0), send(0), send(0), send(0)]).toEqual([
      Verdict.ReplyIcmp,
      Verdict.ReplyIcmp,
      Verdict.Drop,
      Verdict.Drop,
      Verdict.Drop,
    ]);
    expect(layout.names[step.reasonCounter()]).toBe('drop.ttl46');
    expect(step.icmpErrorsSuppressed).toBe(3);
    expect([send(999), send(1000), send(1000)]).toEqual([Verdict.Drop, Verdict.ReplyIcmp, Verdict.Drop]);
    expect(step.icmpErrorsSuppressed).toBe(5);
  });
});
