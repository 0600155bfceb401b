// The PREF64 table orders prefixes RA > DNS64 > configuration, hides DNS64 while a router
// advertises the option, lets a router's latest RA replace what it said before, withdraws on
// lifetime 0 and drops learned prefixes when their lifetime or TTL runs out.
import { describe, expect, it } from 'vitest';
import { Pref64Table } from '../src/pref64-table.js';

const prefixes = (table: Pref64Table) => table.candidates().map((c) => `${c.source}:${c.prefix}`);

describe('Pref64Table', () => {
  it('prefers RA over DNS64 over configuration, each prefix once', () => {
    const table = new Pref64Table(['64:ff9b::/96', '2001:db8:99::/96']);
    expect(prefixes(table)).toEqual(['config:64:ff9b::/96', 'config:2001:db8:99::/96']);
    table.applyDns('192.0.2.53', ['2001:db8:64::/96', '64:ff9b::/96'], 300, 0);
    expect(prefixes(table)).toEqual(['dns:2001:db8:64::/96', 'dns:64:ff9b::/96', 'config:2001:db8:99::/96']);
    table.applyRouterAdvertisement('fe80::1', [{ prefix: '2001:db8:65::/96', lifetimeSeconds: 600 }], 0);
    // While a router advertises the option, DNS64's answer is not used (RFC 8781 sec. 5).
    expect(table.hasRouterPrefix()).toBe(true);
    expect(prefixes(table)).toEqual([
      'ra:2001:db8:65::/96',
      'config:64:ff9b::/96',
      'config:2001:db8:99::/96',
    ]);
  });

  it("lets a router's latest RA replace its prefixes, puts the most recently heard router first, withdraws on lifetime 0", () => {
    const table = new Pref64Table(['64:ff9b::/96']);
    expect(
      table.applyRouterAdvertisement('fe80::1', [{ prefix: '2001:db8:a::/96', lifetimeSeconds: 600 }], 0),
    ).toEqual({
      added: ['2001:db8:a::/96'],
      removed: [],
    });
    expect(
      table.applyRouterAdvertisement('fe80::2', [{ prefix: '2001:db8:b::/96', lifetimeSeconds: 600 }], 10),
    ).toEqual({
      added: ['2001:db8:b::/96'],
      removed: [],
    });
    expect(prefixes(table).slice(0, 2)).toEqual(['ra:2001:db8:b::/96', 'ra:2001:db8:a::/96']);
    expect(
      table.applyRouterAdvertisement('fe80::1', [{ prefix: '2001:db8:c::/96', lifetimeSeconds: 600 }], 20),
    ).toEqual({
      added: ['2001:db8:c::/96'],
      removed: ['2001:db8:a::/96'],
    });
    expect(prefixes(table).slice(0, 2)).toEqual(['ra:2001:db8:c::/96', 'ra:2001:db8:b::/96']);
    // An RA without the option changes nothing; lifetime 0 withdraws.
    expect(table.applyRouterAdvertisement('fe80::2', [], 30)).toEqual({ added: [], removed: [] });
    expect(
      table.applyRouterAdvertisement('fe80::2', [{ prefix: '2001:db8:b::/96', lifetimeSeconds: 0 }], 40),
    ).toEqual({
      added: [],
      removed: ['2001:db8:b::/96'],
    });
    expect(prefixes(table)).toEqual(['ra:2001:db8:c::/96', 'config:64:ff9b::/96']);
  });

  it('drops learned prefixes when their lifetime or TTL runs out, and says when the next one will', () => {
    const table = new Pref64Table(['64:ff9b::/96']);
    table.applyRouterAdvertisement('fe80::1', [{ prefix: '2001:db8:a::/96', lifetimeSeconds: 16 }], 1000);
    table.applyDns('192.0.2.53', ['2001:db8:64::/96'], 30, 1000);
    expect(table.nextExpiryMs()).toBe(17_000);
    expect(table.expire(16_999)).toEqual([]);
    expect(table.expire(17_000).map((c) => c.prefix)).toEqual(['2001:db8:a::/96']);
    // The RA prefix gone, DNS64's answer is used again.
    expect(prefixes(table)).toEqual(['dns:2001:db8:64::/96', 'config:64:ff9b::/96']);
    expect(table.nextExpiryMs()).toBe(31_000);
    expect(table.expire(31_000).map((c) => `${c.source}:${c.prefix}`)).toEqual(['dns:2001:db8:64::/96']);
    expect(prefixes(table)).toEqual(['config:64:ff9b::/96']);
    expect(table.nextExpiryMs()).toBeNull();
  });
});
