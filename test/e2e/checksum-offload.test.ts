// Translated GSO super-packets must carry a partial checksum the kernel can finish in software.
// On the all-veth lab every hop trusts a partial checksum (CHECKSUM_PARTIAL crosses veths and is
// delivered unverified), so a wrong pseudo-header sum goes unnoticed; a real NIC without checksum
// offload, a TUN without IFF_VNET_HDR (TAYGA's), or `ethtool -K ... tx off` makes the kernel
// segment and checksum the super-packet itself, and then the receiver verifies every segment. These
// tests turn transmit checksum offload off on one egress at a time and move 4 MiB through it, checked
// by SHA-256, with the receiving kernel's TcpInCsumErrors counter.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createE2eLab, LABTOOL, PY, SERVER_V4, SERVER_V6, type Where, waitUntil } from './support.js';

const lab = createE2eLab('e2e-csum', { plat: 'xlat64', clat: 'xlat64' });
const PUT_PORT = 8001;
const SIZE = 4 * 1024 * 1024;

/** ethtool: transmit checksum and segmentation offloads of one veth end off (or back on). */
function txOffload(where: Where, device: string, on: boolean) {
  const state = on ? 'on' : 'off';
  lab.check(where, ['ethtool', '-K', device, 'tx', state, 'tso', state, 'gso', state]);
}

function tcpChecksumErrors(where: Where): number {
  const out = lab.check(where, ['nstat', '-az', 'TcpInCsumErrors']);
  return Number(/TcpInCsumErrors\s+(\d+)/.exec(out)?.[1] ?? 'NaN');
}

/** curl in the client; gives up when the transfer crawls (a stalled TCP never completes). */
function curl(args: readonly string[]) {
  return lab.run(
    'client',
    ['curl', '-sS', '-g', '--max-time', '20', '--speed-time', '4', '--speed-limit', '500000', ...args],
    40_000,
  );
}

describe('GSO super-packets through the translators keep finishable partial checksums', () => {
  const want = () => readFileSync(`${lab.runDir}/www/4MiB.sha256`, 'utf8').trim();

  beforeAll(() => {
    lab.up();
    lab.background('server', 'put-server', [PY, LABTOOL, 'put-server', String(PUT_PORT)]);
    waitUntil(
      () => lab.run('server', ['ss', '-ltnH', `sport = :${PUT_PORT}`]).stdout.trim() !== '',
      'the PUT server to listen',
    );
  });

  afterAll(() => {
    lab.teardown();
  });

  const download = (url: string) => {
    const result = lab.run(
      'client',
      ['sh', '-c', `curl -sS -g --max-time 20 --speed-time 4 --speed-limit 500000 '${url}' | sha256sum`],
      40_000,
    );
    return result.stdout.split(' ')[0];
  };

  it('PLAT 4->6: a 4 MiB download via NAT64 with software checksums on the plat->client link', () => {
    // Proves the PLAT's IPv6 super-packets (server data, ports rewritten by NAT) have a partial
    // checksum that the plat kernel can finish when p0 does no checksum offload.
    txOffload('plat', 'p0', false);
    try {
      const errorsBefore = tcpChecksumErrors('client');
      expect(download(`http://[${SERVER_V6}]:8000/4MiB.bin`)).toBe(want());
      expect(tcpChecksumErrors('client') - errorsBefore).toBe(0);
    } finally {
      txOffload('plat', 'p0', true);
    }
  });

  it('PLAT 6->4: a 4 MiB upload via NAT64 with software checksums on the plat->server link', () => {
    // Proves the PLAT's IPv4 super-packets (client data, source port rewritten by NAT) have a
    // partial checksum the plat kernel can finish when p1 does no checksum offload.
    txOffload('plat', 'p1', false);
    try {
      const errorsBefore = tcpChecksumErrors('server');
      const result = curl(['-T', `${lab.runDir}/www/4MiB.bin`, `http://[${SERVER_V6}]:${PUT_PORT}/up`]);
      expect(result.stdout.trim(), result.stderr).toBe(`${SIZE} ${want()}`);
      expect(tcpChecksumErrors('server') - errorsBefore).toBe(0);
    } finally {
      txOffload('plat', 'p1', true);
    }
  });

  it('CLAT 4->6: a 4 MiB upload through the CLAT with software checksums on the client->plat link', () => {
    // Proves the CLAT's IPv6 super-packets (addresses rewritten, ports kept) have a partial checksum
    // the client kernel can finish when c0 does no checksum offload.
    txOffload('client', 'c0', false);
    try {
      const errorsBefore = tcpChecksumErrors('server');
      const result = curl(['-T', `${lab.runDir}/www/4MiB.bin`, `http://${SERVER_V4}:${PUT_PORT}/up`]);
      expect(result.stdout.trim(), result.stderr).toBe(`${SIZE} ${want()}`);
      expect(tcpChecksumErrors('server') - errorsBefore).toBe(0);
    } finally {
      txOffload('client', 'c0', true);
    }
  });

  it('464XLAT download: 4 MiB through the PLAT and the CLAT with software checksums on the plat->client link', () => {
    // Proves the CLAT user's download survives when the PLAT's IPv6 super-packets are checksummed
    // in software before they reach the client (the path a TAYGA CLAT or a plain NIC imposes).
    txOffload('plat', 'p0', false);
    try {
      expect(download(`http://${SERVER_V4}:8000/4MiB.bin`)).toBe(want());
    } finally {
      txOffload('plat', 'p0', true);
    }
  });
});
