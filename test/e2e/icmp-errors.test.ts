// ICMP errors end to end through real kernels (issue 4): hop-limit/TTL expiry at each hop reaches the
// client as the right ICMP error (type, code, the offending router, and a quote its kernel matches
// to the sending socket); a closed UDP port comes back as port unreachable; and Path MTU discovery
// works across a smaller-MTU IPv4 link (the plat's p1 at 1400): the plat kernel's
// fragmentation-needed goes to the pool address, into the PLAT, and back to the client as ICMPv6
// Packet Too Big (and through the CLAT as ICMPv4 fragmentation needed), so uploads complete. Towards
// the server: the PLAT's own fragmentation needed for a DF packet too big for the IPv6 side, and the
// plat kernel's Packet Too Big across a 1400-byte IPv6 link (p0) reaching the server, so downloads
// complete. The suite runs with each PLAT I/O. Through a TUN the plat node is three hops (kernel,
// translator, kernel) and its kernel answers for its links; with AF_XDP the PLAT puts frames on the
// wire itself, so the node is one hop and the PLAT answers for the links' MTUs (followed as they
// change). There the IPv4 router behind the PLAT is the server namespace forwarding to
// 192.0.2.0/24.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createE2eLab,
  LABTOOL,
  PLAT_IOS,
  PLAT_V4,
  PLAT_V4_IN_V6,
  type PlatIo,
  PY,
  SERVER_V4,
  SERVER_V6,
  startUdpServer,
  UDP_PORT,
  waitUntil,
} from './support.js';

const PUT_PORT = 8001;
/** A port nothing listens on in the server namespace. */
const CLOSED_PORT = 33434;

interface ProbeError {
  errno: number;
  origin: number;
  type: number;
  code: number;
  info: number;
  offender: string;
}
const ORIGIN_ICMP = 2;
const ORIGIN_ICMP6 = 3;

/** With AF_XDP: a network the server namespace routes (to a veth of its own), so it is an IPv4 router. */
const BEHIND_NET4 = '192.0.2.0/24';
const BEHIND_V4 = '192.0.2.99';
const BEHIND_V6 = '64:ff9b::c000:263';

/** Where each hop limit / TTL expires, per PLAT I/O (see the header). */
interface Hops {
  /** IPv6 hop limit the PLAT itself expires (NAT64 client). */
  plat6: number;
  /** The smallest hop limit that reaches the server. */
  reach6: number;
  /** A hop limit an IPv4 router behind the PLAT expires, its destination, and the source the client sees. */
  behind6: { hops: number; dst: string; offender: string };
  /** TTLs (CLAT user) that IPv6 routers or the CLAT expire: answered from 192.0.0.8 (RFC 7600). */
  ipv6Routers4: number[];
  /** TTL the PLAT expires (CLAT user). */
  plat4: number;
  /** A TTL the IPv4 router behind expires (CLAT user), its destination, and the source seen. */
  behind4: { ttl: number; dst: string; offender: string };
  /** The source the CLAT user sees on the Packet Too Big about the 1400-byte IPv4 link. */
  tooBigOffender4: string;
}
const HOPS: Record<PlatIo, Hops> = {
  tun: {
    plat6: 2,
    reach6: 4,
    behind6: { hops: 3, dst: SERVER_V6, offender: PLAT_V4_IN_V6 },
    ipv6Routers4: [1, 2, 3],
    plat4: 4,
    behind4: { ttl: 5, dst: SERVER_V4, offender: PLAT_V4 },
    // The plat kernel's own fragmentation needed, from p1's address.
    tooBigOffender4: PLAT_V4,
  },
  xdp: {
    plat6: 1,
    reach6: 2,
    behind6: { hops: 2, dst: BEHIND_V6, offender: SERVER_V6 },
    ipv6Routers4: [1, 2],
    plat4: 3,
    behind4: { ttl: 4, dst: BEHIND_V4, offender: SERVER_V4 },
    // The PLAT's own Packet Too Big, from the destination it could not reach (RFC 7915 sec. 4).
    tooBigOffender4: SERVER_V4,
  },
};

describe.each(PLAT_IOS)('ICMP errors end to end (xlat64 CLAT + xlat64 PLAT on %s)', (io) => {
  const lab = createE2eLab('e2e-icmp', { plat: 'xlat64', clat: 'xlat64', io });
  const hops = HOPS[io];
  /** One UDP datagram with the given hop limit/TTL; the ICMP error the client kernel matched to it. */
  const probe = (dst: string, limit: number, size = 64): ProbeError | null => {
    const args = ['udp-probe', dst, String(CLOSED_PORT), String(limit), '--size', String(size)];
    return lab.tool<{ error: ProbeError | null }>('client', args).error;
  };
  /**
   * Sets a plat link's MTU; with AF_XDP waits until the PLAT follows it (rtnetlink, a refresh
   * interval later), which its status shows as the link.mtu4 / link.mtu6 gauges.
   */
  const setMtu = (link: 'p0' | 'p1', mtu: number) => {
    lab.check('plat', ['ip', 'link', 'set', link, 'mtu', String(mtu)]);
    if (io !== 'xdp') return;
    const gauge = link === 'p1' ? 'link.mtu4' : 'link.mtu6';
    waitUntil(() => lab.counters('plat')[gauge] === mtu, `the PLAT to follow ${link}'s MTU ${mtu}`);
  };

  beforeAll(() => {
    lab.up();
    // Warm up: neighbour entries on both links and the NAT64 path itself, so the first probe below
    // is not the one a loaded machine loses while a next hop resolves.
    waitUntil(
      () => lab.run('client', ['ping', '-6', '-c', '1', '-W', '2', SERVER_V6]).stdout.includes('1 received'),
      'a first ping through NAT64',
    );
    if (io === 'xdp') {
      lab.check('server', ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
      // A veth pair inside the namespace (no dummy module everywhere) holds the network behind.
      lab.check('server', ['ip', 'link', 'add', 'behind0', 'type', 'veth', 'peer', 'name', 'behind1']);
      lab.check('server', ['ip', 'link', 'set', 'behind1', 'up']);
      lab.check('server', ['ip', 'addr', 'add', '192.0.2.1/24', 'dev', 'behind0']);
      lab.check('server', ['ip', 'link', 'set', 'behind0', 'up']);
      lab.check('plat', ['ip', 'route', 'add', BEHIND_NET4, 'via', SERVER_V4, 'dev', 'p1']);
    }
  });

  afterAll(() => {
    lab.teardown();
  });

  describe('hop limit / TTL expiry', () => {
    it('ping -6 with too small a hop limit gets Time exceeded from the PLAT and from the IPv4 router behind it', () => {
      // Proves ICMPv6 time exceeded reaches the NAT64 client both when the PLAT itself expires the
      // packet (hop limit 2 through a TUN, 1 with AF_XDP) and when the IPv4 router behind it does
      // (ICMPv4 translated back), and that the hop limit after those reaches the server.
      const ping6 = (limit: number, dst: string) =>
        lab.run('client', ['ping', '-6', '-c', '1', '-W', '3', '-t', String(limit), dst]).stdout;
      expect(ping6(hops.plat6, SERVER_V6)).toMatch(/From \S+ icmp_seq=1 Time exceeded: Hop limit/);
      expect(ping6(hops.reach6, SERVER_V6)).toContain('1 received');
      const { hops: limit, dst, offender } = hops.behind6;
      expect(ping6(limit, dst)).toContain(`From ${offender} icmp_seq=1 Time exceeded: Hop limit`);
    });

    it('ping through the CLAT with too small a TTL gets Time to live exceeded at every hop', () => {
      // Proves ICMP time exceeded reaches the CLAT's IPv4 user from the CLAT itself (TTL 1), from
      // IPv6 routers (untranslatable sources become 192.0.0.8, RFC 7600), from the PLAT and from
      // the IPv4 router behind it (its own address translated back); the TTLs are in HOPS.
      const from = (ttl: number) =>
        lab.run('client', ['ping', '-c', '1', '-W', '3', '-t', String(ttl), SERVER_V4]).stdout;
      for (const ttl of hops.ipv6Routers4)
        expect(from(ttl)).toContain('From 192.0.0.8 icmp_seq=1 Time to live exceeded');
      expect(from(hops.plat4)).toMatch(/From \S+ icmp_seq=1 Time to live exceeded/);
      if (io === 'tun') {
        expect(from(hops.behind4.ttl)).toContain(
          `From ${hops.behind4.offender} icmp_seq=1 Time to live exceeded`,
        );
        expect(from(hops.behind4.ttl + 1)).toContain('1 received');
      } else {
        expect(from(hops.plat4 + 1)).toContain('1 received');
        const behind = lab.run('client', [
          'ping',
          '-c',
          '1',
          '-W',
          '3',
          '-t',
          String(hops.behind4.ttl),
          BEHIND_V4,
        ]);
        expect(behind.stdout).toContain(`From ${hops.behind4.offender} icmp_seq=1 Time to live exceeded`);
      }
    });

    it('UDP via NAT64 with a hop limit that expires at or behind the PLAT: the sending socket gets ICMPv6 time exceeded', () => {
      // Proves the PLAT's own and a translated ICMPv4 time exceeded quote the UDP datagram with the
      // client's original address and port (the NAT session is reversed), so the kernel matches it.
      const own = probe(SERVER_V6, hops.plat6);
      expect(own).toMatchObject({ origin: ORIGIN_ICMP6, type: 3, code: 0 });
      const translated = probe(hops.behind6.dst, hops.behind6.hops);
      expect(translated).toMatchObject({
        origin: ORIGIN_ICMP6,
        type: 3,
        code: 0,
        offender: hops.behind6.offender,
      });
    });

    it('UDP through the CLAT with a TTL that expires behind the PLAT: the sending socket gets ICMPv4 time exceeded from the IPv4 router', () => {
      // Proves a time exceeded from behind the PLAT survives both translations with a matching quote.
      expect(probe(hops.behind4.dst, hops.behind4.ttl)).toMatchObject({
        origin: ORIGIN_ICMP,
        type: 11,
        code: 0,
        offender: hops.behind4.offender,
      });
    });

    it('UDP to a closed port gets port unreachable, via NAT64 and through the CLAT', () => {
      // Proves the server's ICMPv4 port unreachable comes back as ICMPv6 type 1 code 4 (NAT64) and
      // as ICMPv4 type 3 code 3 again behind the CLAT, each matched to the socket (ECONNREFUSED).
      expect(probe(SERVER_V6, 64)).toMatchObject({ errno: 111, origin: ORIGIN_ICMP6, type: 1, code: 4 });
      expect(probe(SERVER_V4, 64)).toMatchObject({
        errno: 111,
        origin: ORIGIN_ICMP,
        type: 3,
        code: 3,
        offender: SERVER_V4,
      });
    });
  });

  describe('Path MTU discovery across a 1400-byte IPv4 link (plat p1 only)', () => {
    const want = () => readFileSync(`${lab.runDir}/www/4MiB.sha256`, 'utf8').trim();
    const upload = (url: string) =>
      lab.run(
        'client',
        ['curl', '-sS', '-g', '--max-time', '30', '-T', `${lab.runDir}/www/4MiB.bin`, url],
        40_000,
      );
    const flushPmtu = () => {
      lab.check('client', ['ip', '-6', 'route', 'flush', 'cache']);
      lab.check('client', ['ip', '-4', 'route', 'flush', 'cache']);
    };

    beforeAll(() => {
      lab.background('server', 'put-server', [PY, LABTOOL, 'put-server', String(PUT_PORT)]);
      waitUntil(
        () => lab.run('server', ['ss', '-ltnH', `sport = :${PUT_PORT}`]).stdout.trim() !== '',
        'the PUT server to listen',
      );
      setMtu('p1', 1400);
    });

    it('a 1450-byte UDP datagram via NAT64 gets Packet Too Big with MTU 1420', () => {
      // Proves the plat kernel's fragmentation-needed (MTU 1400; TUN) is translated into, or the
      // PLAT itself answers with (AF_XDP), ICMPv6 Packet Too Big carrying 1400 + 20, quoting the
      // client's datagram so its socket sees EMSGSIZE.
      flushPmtu();
      expect(probe(SERVER_V6, 64, 1450)).toMatchObject({
        errno: 90,
        origin: ORIGIN_ICMP6,
        type: 2,
        info: 1420,
      });
    });

    it('a 1450-byte UDP datagram through the CLAT gets fragmentation needed with MTU 1400', () => {
      // Proves the Packet Too Big also survives the CLAT: ICMPv4 type 3 code 4, MTU 1420 - 20,
      // from the IPv4 router that sent it.
      flushPmtu();
      expect(probe(SERVER_V4, 64, 1450)).toMatchObject({
        errno: 90,
        origin: ORIGIN_ICMP,
        type: 3,
        code: 4,
        info: 1400,
        offender: hops.tooBigOffender4,
      });
    });

    it('a 4 MiB TCP upload via NAT64 completes intact and the client learns path MTU 1420', () => {
      // Proves TCP full-size segments that no longer fit are reported back and resent smaller.
      flushPmtu();
      const result = upload(`http://[${SERVER_V6}]:${PUT_PORT}/upload`);
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe(`${4 * 1024 * 1024} ${want()}`);
      expect(lab.check('client', ['ip', '-6', 'route', 'get', SERVER_V6])).toMatch(/ mtu 1420 /);
    });

    it('a 4 MiB TCP upload through the CLAT completes intact and the client learns path MTU 1400', () => {
      // Proves PMTUD works for the CLAT's IPv4 user across both translators.
      flushPmtu();
      const result = upload(`http://${SERVER_V4}:${PUT_PORT}/upload`);
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe(`${4 * 1024 * 1024} ${want()}`);
      expect(lab.check('client', ['ip', '-4', 'route', 'get', SERVER_V4])).toMatch(/ mtu 1400 /);
    });

    it('the PLAT is still running, with no queue handler error', () => {
      // Proves none of the ICMP errors above (built or translated by the PLAT) upset its queue worker.
      expect(lab.roleAlive('plat')).toBe(true);
      expect(lab.roleStatus('plat').queueStats?.handlerErrors ?? 0).toBe(0);
    });
  });

  describe('Path MTU discovery towards the IPv4 server', () => {
    const serverPmtu = () => lab.check('server', ['ip', '-4', 'route', 'show', 'cache']);

    beforeAll(() => {
      startUdpServer(lab);
      setMtu('p1', 1500);
      lab.check('server', ['ip', '-4', 'route', 'flush', 'cache']);
    });

    it('a full-size DF datagram from the server gets fragmentation needed (MTU 1480) from the PLAT, and the resend arrives', () => {
      // Proves the PLAT answers an IPv4 packet that would not fit the IPv6 side after translation
      // (1500 + 20 > 1500, DF set) with ICMPv4 fragmentation needed carrying 1480 (RFC 7915 sec. 4),
      // and that the server's next, fragmented, attempt reaches the client intact.
      const before = lab.counters('plat');
      const result = lab.tool<{ received: number | null; ok: boolean }>('client', [
        'udp-ask',
        SERVER_V6,
        String(UDP_PORT),
        '1472',
        '--tries',
        '3',
      ]);
      expect(result).toMatchObject({ received: 1472, ok: true });
      expect(serverPmtu()).toMatch(/ mtu 1480 /);
      expect(lab.counters('plat')['tx.replies'] - (before['tx.replies'] ?? 0)).toBeGreaterThanOrEqual(1);
    });

    it('4 MiB downloads complete across a 1400-byte IPv6 link (plat p0), via NAT64 and through the CLAT', () => {
      // Proves the plat kernel's ICMPv6 Packet Too Big about a translated packet (sent to the
      // server's IPv4-embedded address, so routed into the PLAT; TUN), or the PLAT's own check of
      // p0's MTU (AF_XDP), reaches the server as ICMPv4 fragmentation needed with MTU 1400 - 20, and
      // the server's TCP resends smaller segments.
      setMtu('p0', 1400);
      lab.check('server', ['ip', '-4', 'route', 'flush', 'cache']);
      const want = readFileSync(`${lab.runDir}/www/4MiB.sha256`, 'utf8').trim();
      for (const url of [`http://[${SERVER_V6}]:8000/4MiB.bin`, `http://${SERVER_V4}:8000/4MiB.bin`]) {
        const file = lab.exec('client', ['curl', '-sS', '-g', '--max-time', '30', url]);
        expect(createHash('sha256').update(file).digest('hex'), url).toBe(want);
      }
      expect(serverPmtu()).toMatch(/ mtu 1380 /);
    });
  });
});
