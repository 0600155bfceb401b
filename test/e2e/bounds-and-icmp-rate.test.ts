// Many subscribers against small table bounds through the xlat64 PLAT (issue 14): each refusal is
// counted under the bound that caused it (never poolexhausted64 while the pool has blocks), the PLAT
// logs the bound and the setting to raise once, and the ICMPv6 errors it answers refusals with stay
// within the configured token bucket (RFC 4443 sec. 2.4 (f)), the rest counted as suppressed.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createE2eLab, readUdpLog, SERVER_V6, startUdpServer, UDP_PORT, waitUntil } from './support.js';

const RATE = 20;
const BURST = 5;
const SUBSCRIBERS_MAX = 4;
const LEASED_BLOCKS_MAX = 6;
const lab = createE2eLab('e2e-bounds', {
  plat: 'xlat64',
  clat: 'none',
  platConfigExtra: [
    `icmpErrorsPerSecond: ${RATE}`,
    `icmpErrorsBurst: ${BURST}`,
    'nat:',
    `  subscribersMax: ${SUBSCRIBERS_MAX}`,
    `  leasedBlocksMax: ${LEASED_BLOCKS_MAX}`,
    // One block per protocol: every mapped subscriber is at its block bound (the at-limit gauge).
    '  subscriberBlocksMax: 1',
  ].join('\n'),
});
const SUBSCRIBERS = 40;
/** Subscriber n is alone in its /56, 2001:db8:1:(40+n)00::/56; the PLAT routes the /50 to the client. */
const subscriber = (n: number) => `2001:db8:1:${(0x40 + n).toString(16)}00::2`;

function delta(before: Record<string, number>, after: Record<string, number>, name: string): number {
  return (after[name] ?? 0) - (before[name] ?? 0);
}

describe('table bounds and the ICMP error rate limit through the xlat64 PLAT', () => {
  let udpLog = '';

  beforeAll(() => {
    lab.up();
    udpLog = startUdpServer(lab);
    lab.check('plat', [
      'ip',
      '-6',
      'route',
      'add',
      '2001:db8:1:4000::/50',
      'via',
      '2001:db8:1::2',
      'dev',
      'p0',
    ]);
    for (let n = 0; n < SUBSCRIBERS; n++) {
      lab.check('client', ['ip', '-6', 'addr', 'add', `${subscriber(n)}/128`, 'dev', 'c0', 'nodad']);
    }
  });

  afterAll(() => {
    lab.teardown();
  });

  it('40 subscribers at once against subscribersMax 4: 36 refusals all counted as subscribersfull64, ICMPv6 errors within burst + rate, the rest suppressed', () => {
    const before = lab.counters('plat');
    const sources = Array.from({ length: SUBSCRIBERS }, (_, n) => subscriber(n));
    const result = lab.tool<{ sent: number; sendSeconds: number; errors: Record<string, number> }>('client', [
      'udp-from-many',
      SERVER_V6,
      String(UDP_PORT),
      ...sources,
      '--listen',
      '3',
    ]);
    const after = lab.counters('plat');
    expect(result.sent).toBe(SUBSCRIBERS);
    // The first four subscribers were mapped and reached the server; the others were refused by the
    // subscriber table, not by the pool (a /24 of 512-port blocks has thousands free).
    expect(readUdpLog(udpLog).length).toBe(SUBSCRIBERS_MAX);
    expect(delta(before, after, 'drop.nat.subscribersfull64')).toBe(SUBSCRIBERS - SUBSCRIBERS_MAX);
    expect(delta(before, after, 'drop.nat.poolexhausted64')).toBe(0);
    expect(delta(before, after, 'drop.nat.leasedblocksfull64')).toBe(0);
    // Every refusal asked for an ICMPv6 address unreachable; the bucket let at most burst + rate per
    // second of sending (rounded up) through, and counted the others.
    const replies = delta(before, after, 'tx.replies');
    const suppressed = delta(before, after, 'icmp.errors.suppressed');
    process.stdout.write(
      `bounds e2e: ${SUBSCRIBERS - SUBSCRIBERS_MAX} refusals in ${result.sendSeconds.toFixed(3)} s: ` +
        `${replies} ICMPv6 errors sent (${result.errors['1/3'] ?? 0} received), ${suppressed} suppressed ` +
        `(bucket ${RATE}/s, burst ${BURST})\n`,
    );
    expect(replies + suppressed).toBe(SUBSCRIBERS - SUBSCRIBERS_MAX);
    expect(replies).toBeGreaterThanOrEqual(BURST);
    expect(replies).toBeLessThanOrEqual(BURST + RATE * Math.ceil(result.sendSeconds + 0.5));
    expect(suppressed).toBeGreaterThan(0);
    expect(result.errors['1/3'] ?? 0).toBe(replies);
    // The four mapped subscribers each hold their one UDP block: at their block bound, none at the session
    // bound (the gauges are recounted once a second).
    waitUntil(
      () => lab.counters('plat')['nat.subscribersAtBlockLimit'] === SUBSCRIBERS_MAX,
      `nat.subscribersAtBlockLimit to reach ${SUBSCRIBERS_MAX}: ${JSON.stringify(lab.counters('plat'))}`,
      10_000,
    );
    expect(lab.counters('plat')['nat.subscribersAtSessionLimit'] ?? 0).toBe(0);
  });

  it('a new protocol block for mapped subscribers beyond leasedBlocksMax 6 is leasedblocksfull64: ping works for two, not for the next two', () => {
    const before = lab.counters('plat');
    const ping = (n: number) =>
      lab.run('client', ['ping', '-6', '-c', '1', '-W', '1', '-I', subscriber(n), SERVER_V6]).code;
    // Subscribers 0-3 hold 4 UDP blocks; ICMP blocks 5 and 6 go to the first two.
    expect([ping(0), ping(1), ping(2), ping(3)]).toEqual([0, 0, 1, 1]);
    const after = lab.counters('plat');
    expect(delta(before, after, 'drop.nat.leasedblocksfull64')).toBe(2);
    expect(delta(before, after, 'drop.nat.poolexhausted64')).toBe(0);
  });

  it('the PLAT logged each bound once (rate-limited), naming the setting to raise', () => {
    const log = readFileSync(`${lab.runDir}/xlat64-plat.log`, 'utf8');
    const lines = log.split('\n');
    expect(lines.filter((l) => l.includes('drop.nat.subscribersfull64')).length).toBe(1);
    expect(log).toContain(`subscribersMax (${SUBSCRIBERS_MAX}) reached`);
    expect(log).toContain('raise subscribersMax');
    expect(log).toContain(`leasedBlocksMax (${LEASED_BLOCKS_MAX}) reached`);
    expect(log).toContain('raise leasedBlocksMax');
  });
});
