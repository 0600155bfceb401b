// ICMP errors end to end through real kernels (issue 4): hop-limit/TTL expiry at each hop reaches the
// client as the right ICMP error (type, code, the offending router, and a quote its kernel matches
// to the sending socket); a closed UDP port comes back as port unreachable; and Path MTU discovery
// works across a smaller-MTU IPv4 link (the plat's p1 at 1400): the plat kernel's
// fragmentation-needed goes to the pool address, into the PLAT, and back to the client as ICMPv6
// Packet Too Big (and through the CLAT as ICMPv4 fragmentation needed), so uploads complete. Towards
// the server: the PLAT's own fragmentation needed for a DF packet too big for the IPv6 side, and the
// plat kernel's Packet Too Big across a 1400-byte IPv6 link (p0) reaching the server, so downloads
// complete.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createE2eLab,
  LABTOOL,
  PLAT_V4,
  PLAT_V4_IN_V6,
  PY,
  SERVER_V4,
  SERVER_V6,
  startUdpServer,
  UDP_PORT,
  waitUntil,
} from './support.js';

const lab = createE2eLab('e2e-icmp', { plat: 'xlat64', clat: 'xlat64' });
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

/** One UDP datagram with the given hop limit/TTL; the ICMP error the client kernel matched to it. */
function probe(dst: string, hops: number, size = 64): ProbeError | null {
  const args = ['udp-probe', dst, String(CLOSED_PORT), String(hops), '--size', String(size)];
  return lab.tool<{ error: ProbeError | null }>('client', args).error;
}

describe('ICMP errors end to end (xlat64 CLAT + xlat64 PLAT)', () => {
  beforeAll(() => {
    lab.up();
  });

  afterAll(() => {
    lab.teardown();
  });

  describe('hop limit / TTL expiry', () => {
    it('ping -6 with too small a hop limit gets Time exceeded from the PLAT and from the IPv4 router behind it', () => {
      // Proves ICMPv6 time exceeded reaches the NAT64 client both when the PLAT itself expires the
      // packet (hop limit 2) and when the IPv4 router behind it does (ICMPv4 translated back, hop limit 3).
      const atPlat = lab.run('client', ['ping', '-6', '-c', '1', '-W', '3', '-t', '2', SERVER_V6]).stdout;
      expect(atPlat).toMatch(/From \S+ icmp_seq=1 Time exceeded: Hop limit/);
      const behind = lab.run('client', ['ping', '-6', '-c', '1', '-W', '3', '-t', '3', SERVER_V6]).stdout;
      expect(behind).toContain(`From ${PLAT_V4_IN_V6} icmp_seq=1 Time exceeded: Hop limit`);
    });

    it('ping through the CLAT with too small a TTL gets Time to live exceeded at every hop', () => {
      // Proves ICMP time exceeded reaches the CLAT's IPv4 user from the CLAT itself (TTL 1), from
      // IPv6 routers (TTL 2, 3: untranslatable sources become 192.0.0.8, RFC 7600), from the PLAT
      // (TTL 4) and from the IPv4 router behind it (TTL 5, its own address translated back).
      const from = (ttl: number) =>
        lab.run('client', ['ping', '-c', '1', '-W', '3', '-t', String(ttl), SERVER_V4]).stdout;
      for (const ttl of [1, 2, 3])
        expect(from(ttl)).toContain('From 192.0.0.8 icmp_seq=1 Time to live exceeded');
      expect(from(4)).toMatch(/From \S+ icmp_seq=1 Time to live exceeded/);
      expect(from(5)).toContain(`From ${PLAT_V4} icmp_seq=1 Time to live exceeded`);
      expect(from(6)).toContain('1 received');
    });

    it('UDP with hop limit 2 and 3 via NAT64: the sending socket gets ICMPv6 time exceeded', () => {
      // Proves the PLAT's own and a translated ICMPv4 time exceeded quote the UDP datagram with the
      // client's original address and port (the NAT session is reversed), so the kernel matches it.
      const own = probe(SERVER_V6, 2);
      expect(own).toMatchObject({ origin: ORIGIN_ICMP6, type: 3, code: 0 });
      const translated = probe(SERVER_V6, 3);
      expect(translated).toMatchObject({ origin: ORIGIN_ICMP6, type: 3, code: 0, offender: PLAT_V4_IN_V6 });
    });

    it('UDP with TTL 5 through the CLAT: the sending socket gets ICMPv4 time exceeded from the IPv4 router', () => {
      // Proves a time exceeded from behind the PLAT survives both translations with a matching quote.
      expect(probe(SERVER_V4, 5)).toMatchObject({
        origin: ORIGIN_ICMP,
        type: 11,
        code: 0,
        offender: PLAT_V4,
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
      lab.check('plat', ['ip', 'link', 'set', 'p1', 'mtu', '1400']);
    });

    it('a 1450-byte UDP datagram via NAT64 gets Packet Too Big with MTU 1420', () => {
      // Proves the plat kernel's fragmentation-needed (MTU 1400) is translated into ICMPv6 Packet
      // Too Big carrying 1400 + 20, quoting the client's datagram so its socket sees EMSGSIZE.
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
        offender: PLAT_V4,
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
      lab.check('plat', ['ip', 'link', 'set', 'p1', 'mtu', '1500']);
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
      // server's IPv4-embedded address, so routed into the PLAT) reaches the server as ICMPv4
      // fragmentation needed with MTU 1400 - 20, and the server's TCP resends smaller segments.
      lab.check('plat', ['ip', 'link', 'set', 'p0', 'mtu', '1400']);
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
