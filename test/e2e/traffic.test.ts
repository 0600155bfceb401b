// End to end through real kernels (issue 4): ping, an HTTP download checked by content, and
// iperf3 TCP and UDP runs, once from the client's IPv4 through the xlat64 CLAT and the xlat64 PLAT
// (464XLAT), once from the pure IPv6 client through the PLAT alone (NAT64 via 64:ff9b::/96). The
// PLAT's and the CLAT's status counters must show the traffic. Behaviour only, never speed. The suite
// runs with each PLAT I/O (issue 15): a TUN device the kernel routes around, and AF_XDP on the veths,
// where the PLAT is the router (no GSO super-packets: every 1500-byte frame crosses it one by one).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createE2eLab, HELLO, iperf, PLAT_IOS, SERVER_V4, SERVER_V6 } from './support.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe.each(PLAT_IOS)('traffic through the xlat64 CLAT and PLAT (%s), and through the PLAT alone', (io) => {
  const lab = createE2eLab('e2e-traffic', { plat: 'xlat64', clat: 'xlat64', io });

  beforeAll(() => {
    lab.up();
  });

  afterAll(() => {
    lab.teardown();
  });

  describe('464XLAT: client IPv4 -> xlat64 CLAT -> xlat64 PLAT -> IPv4 server', () => {
    it('answers ping', () => {
      // Proves ICMPv4 echo survives both translations (CLAT 4->6, PLAT 6->4, and back).
      const out = lab.check('client', ['ping', '-c', '3', '-i', '0.2', '-W', '3', SERVER_V4]);
      expect(out).toContain('3 received');
    });

    it('downloads HTTP content intact (index page and 4 MiB by SHA-256)', () => {
      // Proves a TCP download through both translators delivers exactly the server's bytes.
      const page = lab.check('client', ['curl', '-sS', '--max-time', '10', `http://${SERVER_V4}:8000/`]);
      expect(page.trim()).toBe(HELLO);
      const file = lab.exec('client', [
        'curl',
        '-sS',
        '--max-time',
        '30',
        `http://${SERVER_V4}:8000/4MiB.bin`,
      ]);
      expect(file.length).toBe(4 * 1024 * 1024);
      expect(sha256(file)).toBe(readFileSync(`${lab.runDir}/www/4MiB.sha256`, 'utf8').trim());
    });

    it('completes an iperf3 TCP run', () => {
      // Proves a sustained TCP upload (GSO super-packets on the veths) passes both translators.
      const result = iperf(lab, SERVER_V4);
      expect(result.error).toBeUndefined();
      expect(result.bytesReceived).toBeGreaterThan(0);
    });

    it('completes an iperf3 UDP run', () => {
      // Proves a sustained UDP stream passes both translators; 1200-byte datagrams need no fragments
      // (fragmented UDP has its own suite, fragments.test.ts).
      const result = iperf(lab, SERVER_V4, ['-u', '-b', '20M', '-l', '1200']);
      expect(result.error).toBeUndefined();
      expect(result.bytesReceived).toBeGreaterThan(0);
    });

    it('counts the traffic in the CLAT and the PLAT', () => {
      // Proves the status counters of both roles saw translated packets in both directions.
      // The 4 MiB download went IPv4->IPv6 at the PLAT and IPv6->IPv4 at the CLAT; iperf3 the other way.
      const clat = lab.counters('clat');
      expect(clat['tx.bytes64']).toBeGreaterThan(4 * 1024 * 1024);
      expect(clat['tx.bytes46']).toBeGreaterThan(0);
      const plat = lab.counters('plat');
      expect(plat['tx.bytes46']).toBeGreaterThan(4 * 1024 * 1024);
      expect(plat['tx.bytes64']).toBeGreaterThan(0);
      // And the PLAT I/O named carried it: with AF_XDP, the sockets' workers sent the packets out (at
      // least as many as the 4 MiB download needs in 1500-byte frames).
      const status = lab.roleStatus('plat');
      if (io === 'xdp') {
        expect(status).toMatchObject({ io: 'xdp', xdpMode: 'native' });
        const sent = (status.queueStats as { txPackets: number }).txPackets;
        expect(sent).toBeGreaterThan((4 * 1024 * 1024) / 1500);
      } else {
        expect(status.io).toBeUndefined();
      }
    });
  });

  describe('NAT64: pure IPv6 client -> xlat64 PLAT (64:ff9b::/96) -> IPv4 server', () => {
    it('answers ping -6', () => {
      // Proves ICMPv6 echo to an IPv4-embedded address comes back from the IPv4-only server.
      const out = lab.check('client', ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '3', SERVER_V6]);
      expect(out).toContain('3 received');
    });

    it('downloads HTTP content intact (index page and 4 MiB by SHA-256)', () => {
      // Proves a TCP download through stateful NAT64 alone delivers exactly the server's bytes.
      const base = `http://[${SERVER_V6}]:8000`;
      const page = lab.check('client', ['curl', '-sS', '-g', '--max-time', '10', `${base}/`]);
      expect(page.trim()).toBe(HELLO);
      const file = lab.exec('client', ['curl', '-sS', '-g', '--max-time', '30', `${base}/4MiB.bin`]);
      expect(file.length).toBe(4 * 1024 * 1024);
      expect(sha256(file)).toBe(readFileSync(`${lab.runDir}/www/4MiB.sha256`, 'utf8').trim());
    });

    it('completes an iperf3 TCP run in each direction', () => {
      // Proves sustained TCP through NAT64, client to server and (-R) server to client.
      for (const extra of [[], ['-R']]) {
        const result = iperf(lab, SERVER_V6, extra);
        expect(result.error, `iperf3 ${extra.join(' ')}`).toBeUndefined();
        expect(result.bytesReceived).toBeGreaterThan(0);
      }
    });

    it('completes an iperf3 UDP run', () => {
      // Proves a sustained UDP stream through NAT64; 1200-byte datagrams need no fragments.
      const result = iperf(lab, SERVER_V6, ['-u', '-b', '20M', '-l', '1200']);
      expect(result.error).toBeUndefined();
      expect(result.bytesReceived).toBeGreaterThan(0);
    });

    it('shows the server only NAT64 pool addresses', () => {
      // Proves the server saw every HTTP client as an address of 203.0.113.0/24, never a private one.
      const log = readFileSync(`${lab.runDir}/http.log`, 'utf8');
      const peers = [...log.matchAll(/^(\S+) - - /gm)].map((m) => m[1]);
      expect(peers.length).toBeGreaterThanOrEqual(4);
      for (const peer of peers) expect(peer).toMatch(/^203\.0\.113\.\d+$/);
    });
  });
});
