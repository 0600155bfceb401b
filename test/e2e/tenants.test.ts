// Two ISPs as tenants of one xlat64 PLAT in the namespace lab (issue 16): isp-a's subscribers
// (2001:db8:1:a000::/52) are given 203.0.113.0/28, isp-b's (2001:db8:1:b000::/52) 203.0.113.128/28,
// through two workers. Each tenant's TCP and UDP flows reach the IPv4-only server from its own pool;
// a client in a third prefix gets no translation, an ICMPv6 administratively prohibited error instead,
// and the refusal is counted as drop.notenant64. The status counts each tenant's packets and blocks.
// On SIGHUP the running PLAT adds and removes tenants and keeps its tenants when the file is refused.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createE2eLab, readUdpLog, SERVER_V6, startUdpServer, UDP_PORT, waitUntil } from './support.js';

const lab = createE2eLab('e2e-tenants', {
  plat: 'xlat64',
  clat: 'none',
  queues: 2,
  platConfigExtra: [
    'tenants:',
    '  - name: isp-a',
    '    prefixes: [2001:db8:1:a000::/52]',
    '    pool4: [203.0.113.0/28]',
    '  - name: isp-b',
    '    prefixes: [2001:db8:1:b000::/52]',
    '    pool4: [203.0.113.128/28]',
  ].join('\n'),
});
/** Subscriber n of a tenant: alone in its /56 inside the tenant's /52. */
const subscriberOf = (tenant: 'a' | 'b' | 'c', n: number) => `2001:db8:1:${tenant}${n}00::2`;
const SUBSCRIBERS = 3;
const inPool = (address: string, first: number) => {
  const m = /^203\.0\.113\.(\d+)$/.exec(address);
  return m !== null && Number(m[1]) >= first && Number(m[1]) < first + 16;
};

describe('two tenants through the xlat64 PLAT: each from its own pool, a third prefix refused', () => {
  let udpLog = '';

  beforeAll(() => {
    lab.up();
    udpLog = startUdpServer(lab);
    // 2001:db8:1:8000::/49 holds both tenants' /52s and the unknown 2001:db8:1:c000::/52.
    lab.check('plat', [
      'ip',
      '-6',
      'route',
      'add',
      '2001:db8:1:8000::/49',
      'via',
      '2001:db8:1::2',
      'dev',
      'p0',
    ]);
    for (const tenant of ['a', 'b', 'c'] as const) {
      for (let n = 0; n < SUBSCRIBERS; n++) {
        const address = subscriberOf(tenant, n);
        lab.check('client', ['ip', '-6', 'addr', 'add', `${address}/128`, 'dev', 'c0', 'nodad']);
      }
    }
  });

  afterAll(() => {
    lab.teardown();
  });

  it("each tenant's UDP and TCP flows leave from that tenant's pool4 share", () => {
    // Proves pool isolation end to end: every flow of isp-a is seen at the server from 203.0.113.0/28,
    // every flow of isp-b from 203.0.113.128/28, one address per subscriber (paired pooling kept).
    for (const tenant of ['a', 'b'] as const) {
      for (let n = 0; n < SUBSCRIBERS; n++) {
        const tag = `tenant=${tenant}&sub=${n}`;
        const sent = lab.tool<{ ok: boolean }>('client', [
          'udp-send',
          SERVER_V6,
          String(UDP_PORT),
          '200',
          '--bind',
          subscriberOf(tenant, n),
          '--tag',
          tag,
        ]);
        expect(sent.ok, tag).toBe(true);
        const page = lab.check('client', [
          'curl',
          '-sS',
          '-g',
          '--max-time',
          '20',
          '--interface',
          subscriberOf(tenant, n),
          `http://[${SERVER_V6}]:8000/?${tag}`,
        ]);
        expect(page, tag).toContain('hello from x64-server');
      }
    }
    const peers = new Map<string, Set<string>>();
    const seen = (tag: string, peer: string) => peers.set(tag, (peers.get(tag) ?? new Set()).add(peer));
    for (const line of readUdpLog(udpLog)) seen(line.tag, line.peer);
    const http = readFileSync(`${lab.runDir}/http.log`, 'utf8');
    for (const m of http.matchAll(/^(\S+) - - \[[^\]]*\] "GET \/\?(tenant=\w&sub=\d+) /gm)) seen(m[2], m[1]);
    expect(peers.size).toBe(2 * SUBSCRIBERS);
    for (const [tag, set] of peers) {
      expect([...set], tag).toHaveLength(1);
      const [peer] = [...set];
      expect(inPool(peer, tag.startsWith('tenant=a') ? 0 : 128), `${tag} from ${peer}`).toBe(true);
    }
  });

  it('a client of no tenant gets ICMPv6 administratively prohibited and reaches nothing; the drop is counted', () => {
    // Proves the PLAT is not an open NAT64: a source outside every tenant prefix is refused (type 1
    // code 1 from the PREF64 destination), nothing reaches the server, drop.notenant64 counts it.
    const before = lab.counters('plat');
    const heardBefore = readUdpLog(udpLog).length;
    for (let n = 0; n < SUBSCRIBERS; n++) {
      const probe = lab.tool<{ error: { type: number; code: number; offender: string } | null }>('client', [
        'udp-probe',
        SERVER_V6,
        String(UDP_PORT),
        '64',
        '--bind',
        subscriberOf('c', n),
      ]);
      expect(probe.error, subscriberOf('c', n)).not.toBeNull();
      expect(probe.error?.type).toBe(1);
      expect(probe.error?.code).toBe(1);
      expect(probe.error?.offender).toBe(SERVER_V6);
    }
    const after = lab.counters('plat');
    expect((after['drop.notenant64'] ?? 0) - (before['drop.notenant64'] ?? 0)).toBeGreaterThanOrEqual(
      SUBSCRIBERS,
    );
    expect(readUdpLog(udpLog).length).toBe(heardBefore);
  });

  it("the status counts each tenant's packets and the blocks its subscribers hold", () => {
    // Proves per-tenant accounting: both tenants translated packets both ways, and each holds blocks
    // (one UDP and one TCP block per subscriber).
    const counters = lab.counters('plat');
    for (const tenant of ['isp-a', 'isp-b']) {
      expect(counters[`tenant.${tenant}.packets64`], tenant).toBeGreaterThanOrEqual(2 * SUBSCRIBERS);
      expect(counters[`tenant.${tenant}.translated64`], tenant).toBeGreaterThanOrEqual(2 * SUBSCRIBERS);
      expect(counters[`tenant.${tenant}.translated46`], tenant).toBeGreaterThanOrEqual(2 * SUBSCRIBERS);
      expect(counters[`tenant.${tenant}.blocks`], tenant).toBe(2 * SUBSCRIBERS);
    }
    expect(counters['nat.blocks']).toBe(4 * SUBSCRIBERS);
  });

  it('SIGHUP adds a tenant, refuses a bad configuration naming the field, and removes a tenant, without a restart', () => {
    // Proves live changes: the running PLAT (same PID) serves isp-c after the reload that adds it, keeps
    // the running tenants when a reloaded configuration is refused, and refuses a removed tenant's
    // subscribers (ICMPv6 type 1 code 1) after the reload that removes it.
    const file = `${lab.runDir}/xlat64-plat.yaml`;
    const started = readFileSync(file, 'utf8');
    const pidFile = `${lab.runDir}/xlat64-plat.pid`;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const logLines = () => readFileSync(`${lab.runDir}/xlat64-plat.log`, 'utf8').split('\n');
    const reload = (yaml: string, expected: RegExp): string => {
      const before = logLines().length;
      writeFileSync(file, yaml);
      process.kill(pid, 'SIGHUP');
      let line = '';
      waitUntil(() => {
        line =
          logLines()
            .slice(before - 1)
            .find((l) => expected.test(l)) ?? '';
        return line !== '';
      }, `the PLAT to log ${expected}`);
      return line;
    };
    const udpFrom = (source: string, tag: string) =>
      lab.tool<{ ok: boolean }>('client', [
        'udp-send',
        SERVER_V6,
        String(UDP_PORT),
        '200',
        '--bind',
        source,
        '--tag',
        tag,
      ]);
    const refusal = (source: string) =>
      lab.tool<{ error: { type: number; code: number } | null }>('client', [
        'udp-probe',
        SERVER_V6,
        String(UDP_PORT),
        '64',
        '--bind',
        source,
      ]).error;
    const peerOf = (tag: string) => readUdpLog(udpLog).find((l) => l.tag === tag)?.peer ?? '';
    const isp = (name: string, prefix: string) => `  - name: ${name}\n    prefixes: [${prefix}]\n`;

    const added = `${started.trimEnd()}\n${isp('isp-c', '2001:db8:1:c000::/52')}`;
    expect(reload(added, /SIGHUP: tenants reloaded/)).toMatch(/isp-a, isp-b, isp-c/);
    // The PLAT applies it at its next maintenance tick (100 ms); udp-send retries for 3 s.
    expect(udpFrom(subscriberOf('c', 0), 'reload=added').ok).toBe(true);
    const peer = peerOf('reload=added');
    expect(inPool(peer, 0) || inPool(peer, 128), peer).toBe(false); // the undedicated addresses

    const overlapping = `${added}${isp('isp-d', '2001:db8:1:a100::/56')}`;
    expect(reload(overlapping, /SIGHUP: configuration refused/)).toMatch(/tenants\[3\]\.prefixes\[0\]/);
    expect(udpFrom(subscriberOf('c', 1), 'reload=refused').ok).toBe(true);

    const withoutB = added.replace(/ {2}- name: isp-b\n(?: {4}.*\n)+/, '');
    expect(withoutB).not.toContain('isp-b');
    expect(reload(withoutB, /SIGHUP: tenants reloaded/)).toMatch(/isp-a, isp-c/);
    waitUntil(() => refusal(subscriberOf('b', 2))?.code === 1, 'isp-b to be refused');
    expect(udpFrom(subscriberOf('a', 1), 'reload=a-stays').ok).toBe(true);
    expect(Number(readFileSync(pidFile, 'utf8').trim())).toBe(pid);
    expect(lab.roleAlive('plat')).toBe(true);
  });
});
