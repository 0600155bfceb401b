// RFC 7050 / RFC 8880 DNS64 discovery against a real resolver (Debian's unbound with its dns64
// module, on loopback): the prefix and its length come out of the synthesized AAAA records for
// every prefix length unbound synthesizes; a resolver without DNS64, an answer with no well-known
// address, a malformed position and broken DNS messages are refused with their named reason.
import { afterEach, describe, expect, it } from 'vitest';
import { parseIpv6Address } from '../../../libs/xlat/src/index.js';
import { startUnbound, type Unbound } from '../../../test/support/unbound.js';
import {
  decodeAaaaAnswer,
  discoverDns64,
  encodeAaaaQuery,
  nameserversOf,
  parseDnsServer,
  prefixesFromAaaa,
} from '../src/rfc7050.js';

const running: Unbound[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.stop();
});

async function resolver(options: Parameters<typeof startUnbound>[0]): Promise<Unbound> {
  const server = await startUnbound(options);
  running.push(server);
  return server;
}

describe('RFC 7050 discovery through unbound dns64', () => {
  it('finds the prefix and its length at every RFC 6052 length', async () => {
    for (const prefix of [
      '2001:db8:64::/96',
      '2001:db8:64:6400::/64',
      '2001:db8:6400::/56',
      '2001:db8:6400::/48',
      '2001:db8:6400::/40',
      '2001:db8::/32',
      '64:ff9b::/96',
    ]) {
      const server = await resolver({ dns64Prefix: prefix });
      const found = await discoverDns64([{ address: server.address, port: server.port }], {
        timeoutMs: 3000,
      });
      expect(found, prefix).toEqual({
        prefixes: [{ prefix, length: Number(prefix.split('/')[1]) }],
        ttlSeconds: 300,
        problems: [],
      });
      await running.pop()!.stop();
    }
  });

  it('names a resolver without DNS64, an answer with no well-known address, and silence', async () => {
    const plain = await resolver({});
    expect(
      await discoverDns64([{ address: plain.address, port: plain.port }], { timeoutMs: 3000 }),
    ).toMatchObject({
      reason: 'noaaaa',
    });
    // A real AAAA record wins over synthesis (RFC 6147 sec. 5.1.6): it embeds no 192.0.0.170.
    const real = await resolver({ dns64Prefix: '64:ff9b::/96', extraRecords: ['@ 300 IN AAAA 2001:db8::1'] });
    const noWka = await discoverDns64([{ address: real.address, port: real.port }], { timeoutMs: 3000 });
    expect(noWka).toMatchObject({ reason: 'nowka' });
    expect((noWka as { why: string }).why).toMatch(/2001:db8::1 embeds neither/);
    // The first server does not answer (nothing listens there); the second one does.
    const good = await resolver({ dns64Prefix: '2001:db8:64::/96' });
    const found = await discoverDns64(
      [
        { address: '127.0.0.1', port: 9 },
        { address: good.address, port: good.port },
      ],
      { timeoutMs: 500 },
    );
    expect(found).toMatchObject({ prefixes: [{ prefix: '2001:db8:64::/96' }] });
    expect(await discoverDns64([{ address: '127.0.0.1', port: 9 }], { timeoutMs: 300 })).toMatchObject({
      reason: 'timeout',
    });
  });
});

describe('RFC 7050 sec. 3 positions and DNS message checks', () => {
  const aaaa = (text: string) => ({ address: parseIpv6Address(text)!, ttlSeconds: 60 });

  it('takes the length where the well-known address sits with the u octet and suffix zero (RFC 6052 sec. 2.2)', () => {
    // c000:00aa also sits at bytes 4-7, the /32 position, but the /32 suffix would not be zero.
    expect(prefixesFromAaaa([aaaa('2001:db8:c000:aa::c000:aa'), aaaa('2001:db8:c000:aa::c000:ab')])).toEqual({
      prefixes: [{ prefix: '2001:db8:c000:aa::/96', length: 96 }],
      ttlSeconds: 60,
      problems: [],
    });
    expect(prefixesFromAaaa([aaaa('2001:db8:c000:aa::')])).toEqual({
      prefixes: [{ prefix: '2001:db8::/32', length: 32 }],
      ttlSeconds: 60,
      problems: [],
    });
    // The u octet (byte 8) set: no position fits, the record is refused.
    expect(prefixesFromAaaa([aaaa('2001:db8:64:0:100::c000:aa')])).toMatchObject({ reason: 'nowka' });
    // A 171 record alone confirms but gives nothing.
    expect(prefixesFromAaaa([aaaa('64:ff9b::c000:ab')])).toMatchObject({ reason: 'nowka' });
  });

  it('keeps every distinct prefix of several AAAA records, and the smallest TTL', () => {
    const found = prefixesFromAaaa([
      { address: parseIpv6Address('64:ff9b::c000:aa')!, ttlSeconds: 600 },
      { address: parseIpv6Address('2001:db8:64::c000:aa')!, ttlSeconds: 120 },
      { address: parseIpv6Address('64:ff9b::c000:ab')!, ttlSeconds: 600 },
    ]);
    expect(found).toEqual({
      prefixes: [
        { prefix: '64:ff9b::/96', length: 96 },
        { prefix: '2001:db8:64::/96', length: 96 },
      ],
      ttlSeconds: 120,
      problems: [],
    });
  });

  it('refuses answers with another id, TC set, an error rcode, a forward pointer or a cut record', () => {
    const query = encodeAaaaQuery(0x1234);
    const answer = (edit: (m: Uint8Array) => void, extra: number[] = []) => {
      const m = new Uint8Array([...query, ...extra]);
      m[2] = 0x81;
      m[3] = 0x80;
      edit(m);
      return m;
    };
    expect(
      decodeAaaaAnswer(
        answer(() => {}),
        0x1235,
      ),
    ).toMatchObject({ reason: 'id' });
    expect(
      decodeAaaaAnswer(
        answer((m) => (m[2] |= 0x02)),
        0x1234,
      ),
    ).toMatchObject({ reason: 'truncated' });
    expect(
      decodeAaaaAnswer(
        answer((m) => (m[3] = 0x83)),
        0x1234,
      ),
    ).toMatchObject({ reason: 'rcode' });
    expect(
      decodeAaaaAnswer(
        answer((m) => (m[2] = 0x01)),
        0x1234,
      ),
    ).toMatchObject({ reason: 'notresponse' });
    expect(
      decodeAaaaAnswer(
        answer(() => {}),
        0x1234,
      ),
    ).toMatchObject({ reason: 'noaaaa' });
    // One answer whose name is a pointer to itself (forward/loop), then one cut short.
    const loop = answer((m) => (m[7] = 1), [0xc0, query.length]);
    expect(decodeAaaaAnswer(loop, 0x1234)).toMatchObject({ reason: 'name' });
    const cut = answer((m) => (m[7] = 1), [0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0x20, 0x01]);
    expect(decodeAaaaAnswer(cut, 0x1234)).toMatchObject({ reason: 'short' });
    expect(decodeAaaaAnswer(new Uint8Array(5), 0)).toMatchObject({ reason: 'short' });
  });

  it('reads DNS servers with and without ports, and the nameservers of resolv.conf', () => {
    expect(parseDnsServer('2001:db8::53')).toEqual({ address: '2001:db8::53', port: 53 });
    expect(parseDnsServer('[2001:db8::53]:5353')).toEqual({ address: '2001:db8::53', port: 5353 });
    expect(parseDnsServer('192.0.2.53:5353')).toEqual({ address: '192.0.2.53', port: 5353 });
    expect(parseDnsServer('resolver.example')).toBeNull();
    expect(nameserversOf('# x\nnameserver 192.0.2.53\nsearch example\nnameserver fe80::1%eth0\n')).toEqual([
      { address: '192.0.2.53', port: 53 },
      { address: 'fe80::1', port: 53 },
    ]);
  });
});
