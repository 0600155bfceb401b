// The discovery acts on what it is told, with its own clock: an RA prefix replaces DNS64's (a real
// unbound on loopback) and configuration, is published to the workers' slot with the previous one
// draining, expires when its lifetime runs out (DNS64 again), and the drain ends after drainMs.
// RAs from a non-link-local source, with a hop limit other than 255, and malformed options are counted
// by reason and logged with why.
import { afterEach, describe, expect, it } from 'vitest';
import { formatIpv6Address, parseIpv6Address } from '../../../libs/xlat/src/index.js';
import { startUnbound, type Unbound } from '../../../test/support/unbound.js';
import { Pref64Discovery } from '../src/pref64-discovery.js';
import { PrefixSlot } from '../src/prefix-slot.js';
import { encodePref64Option, parseRouterAdvertisement } from '../src/rfc8781.js';

const servers: Unbound[] = [];
const discoveries: Pref64Discovery[] = [];
afterEach(async () => {
  for (const d of discoveries.splice(0)) d.stop();
  for (const s of servers.splice(0)) await s.stop();
});

function ra(options: { prefix: string; lifetimeSeconds: number; plc?: number }[]) {
  const bytes = new Uint8Array(16 + 16 * options.length);
  bytes[0] = 134;
  options.forEach((o, i) => {
    const [address, length] = o.prefix.split('/');
    encodePref64Option(
      { address: parseIpv6Address(address)!, length: Number(length), lifetimeSeconds: o.lifetimeSeconds },
      bytes,
      16 + 16 * i,
    );
    if (o.plc !== undefined) bytes[16 + 16 * i + 3] = (bytes[16 + 16 * i + 3] & ~7) | o.plc;
  });
  return parseRouterAdvertisement(bytes)!;
}

const slotText = (slot: PrefixSlot) => {
  const c = slot.read()!;
  const text = (p: { address: Uint8Array; length: number }) => `${formatIpv6Address(p.address)}/${p.length}`;
  return { active: text(c.active), previous: c.previous === null ? null : text(c.previous) };
};

async function until(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('Pref64Discovery', () => {
  it('prefers RA over DNS64 over configuration, publishes with a drain, and acts on expiry', async () => {
    const unbound = await startUnbound({ dns64Prefix: '2001:db8:64::/96' });
    servers.push(unbound);
    let now = 1_000_000;
    const lines: string[] = [];
    const slot = new PrefixSlot();
    const discovery = new Pref64Discovery({
      configured: ['64:ff9b::/96'],
      raDiscovery: false,
      dns64Discovery: true,
      dnsServers: [{ address: unbound.address, port: unbound.port }],
      probe: null,
      drainMs: 50,
      slot,
      log: (line) => lines.push(line),
      now: () => now,
    });
    discoveries.push(discovery);
    discovery.start();
    expect(slotText(slot)).toEqual({ active: '64:ff9b::/96', previous: null });
    await until('the DNS64 answer', () => discovery.current().source === 'dns');
    expect(slotText(slot)).toEqual({ active: '2001:db8:64::/96', previous: '64:ff9b::/96' });
    // The drain ends on its own timer.
    await until('the drain to end', () => slot.read()!.previous === null);

    discovery.onRouterAdvertisement('fe80::1', ra([{ prefix: '2001:db8:65::/96', lifetimeSeconds: 16 }]));
    expect(discovery.current()).toEqual({
      active: '2001:db8:65::/96',
      source: 'ra',
      draining: '2001:db8:64::/96',
    });
    expect(slotText(slot)).toEqual({ active: '2001:db8:65::/96', previous: '2001:db8:64::/96' });

    // 16 s later the RA's lifetime has run out: back to DNS64's prefix, and the expiry is counted.
    now += 16_001;
    discovery.refresh();
    expect(discovery.current()).toMatchObject({ active: '2001:db8:64::/96', source: 'dns' });
    expect(discovery.counters['pref64.expired']).toBe(1);
    expect(discovery.counters['pref64.changes']).toBe(3);
    expect(lines.some((l) => /2001:db8:65::\/96 \(ra from fe80::1\) expired/.test(l))).toBe(true);
  });

  it('counts and logs a DNS answer without DNS64 synthesis, keeping the configured prefix', async () => {
    const plain = await startUnbound({});
    servers.push(plain);
    const lines: string[] = [];
    const discovery = new Pref64Discovery({
      configured: ['64:ff9b::/96'],
      raDiscovery: false,
      dns64Discovery: true,
      dnsServers: [{ address: plain.address, port: plain.port }],
      probe: null,
      drainMs: 0,
      slot: new PrefixSlot(),
      log: (line) => lines.push(line),
    });
    discoveries.push(discovery);
    discovery.start();
    await until('the answer to be judged', () => discovery.counters['dns.malformed.noaaaa'] === 1);
    expect(discovery.current()).toMatchObject({ active: '64:ff9b::/96', source: 'config' });
    expect(
      lines.some((l) => /DNS64 discovery: .*no AAAA record for ipv4only\.arpa.*asking again in 10 s/.test(l)),
    ).toBe(true);
  });

  it('counts and logs RAs from a non-link-local source and malformed options, keeping the valid ones', () => {
    const lines: string[] = [];
    const discovery = new Pref64Discovery({
      configured: ['64:ff9b::/96'],
      raDiscovery: false,
      dns64Discovery: false,
      dnsServers: [],
      probe: null,
      drainMs: 0,
      slot: new PrefixSlot(),
      log: (line) => lines.push(line),
    });
    discoveries.push(discovery);
    discovery.start();
    discovery.onRouterAdvertisement(
      '2001:db8:1::1',
      ra([{ prefix: '2001:db8:65::/96', lifetimeSeconds: 600 }]),
    );
    expect(discovery.current().active).toBe('64:ff9b::/96');
    expect(discovery.counters['ra.malformed.source']).toBe(1);
    // RFC 4861 sec. 6.1.2: hop limit 255 or the RA came through a router.
    discovery.onRouterAdvertisement(
      'fe80::1',
      ra([{ prefix: '2001:db8:65::/96', lifetimeSeconds: 600 }]),
      254,
    );
    expect(discovery.current().active).toBe('64:ff9b::/96');
    expect(discovery.counters['ra.malformed.hoplimit']).toBe(1);
    discovery.onRouterAdvertisement(
      'fe80::1',
      ra([
        { prefix: '2001:db8:66::/96', lifetimeSeconds: 600, plc: 7 },
        { prefix: '2001:db8:65::/96', lifetimeSeconds: 600 },
      ]),
    );
    expect(discovery.current().active).toBe('2001:db8:65::/96');
    expect(discovery.counters['ra.malformed.pref64plc']).toBe(1);
    expect(discovery.counters['ra.received']).toBe(3);
    expect(lines.filter((l) => /ignored/.test(l))).toEqual([
      expect.stringMatching(/RA from 2001:db8:1::1 ignored: the source is not link-local/),
      expect.stringMatching(/RA from fe80::1 ignored: hop limit 254, not 255/),
      expect.stringMatching(/PREF64 option ignored: prefix length code 7/),
    ]);
    // Lifetime 0 withdraws at once: the configured prefix again.
    discovery.onRouterAdvertisement('fe80::1', ra([{ prefix: '2001:db8:65::/96', lifetimeSeconds: 0 }]));
    expect(discovery.current().active).toBe('64:ff9b::/96');
    expect(discovery.counters['ra.withdrawn']).toBe(1);
  });
});
