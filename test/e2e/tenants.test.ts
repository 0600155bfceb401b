// Two ISPs as tenants of one xlat64 PLAT in the namespace lab (issue 16): isp-a's subscribers
// (2001:db8:1:a000::/52) are given 203.0.113.0/28, isp-b's (2001:db8:1:b000::/52) 203.0.113.128/28,
// through two workers. Each tenant's TCP and UDP flows reach the IPv4-only server from its own pool;
// a client in a third prefix gets no translation, an ICMPv6 administratively prohibited error instead,
// and the refusal is counted as drop.notenant64. The status counts each tenant's packets and blocks.
// On SIGHUP the running PLAT adds and removes tenants and keeps its tenants when the file is refused;
// a tenant added so is counted at once. `xlat64 tenant` shows and reloads them; the usage records
// (one JSON line per tenant per second here) add up to the traffic sent, packets and bytes per tenant.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantUsage, TenantUsageRecord } from '../../services/ingress/src/index.js';
import {
  createE2eLab,
  readUdpLog,
  SERVER_V6,
  startUdpServer,
  UDP_PORT,
  waitUntil,
  XLAT64,
} from './support.js';

/** The lab's run directory (support.ts names it so): the usage file goes there. */
const USAGE_FILE = `/tmp/x64t-e2e-tenants-${process.pid}/usage.jsonl`;

const lab = createE2eLab('e2e-tenants', {
  plat: 'xlat64',
  clat: 'none',
  queues: 2,
  platConfigExtra: [
    // Before tenants: the SIGHUP test appends tenants at the end of the file.
    'usage:',
    `  file: ${USAGE_FILE}`,
    '  intervalMs: 1000',
    '  node: e2e-plat',
    'tenants:',
    '  - name: isp-a',
    '    prefixes: [2001:db8:1:a000::/52]',
    '    subscriberPrefixLength: 64',
    '    pool4: [203.0.113.0/28]',
    '  - name: isp-b',
    '    prefixes: [2001:db8:1:b000::/52]',
    '    pool4: [203.0.113.128/28]',
  ].join('\n'),
});

/** `xlat64 tenant ARGS --socket <the lab PLAT's>`: exit status and output. */
function tenantCli(args: readonly string[]) {
  const result = spawnSync(
    process.execPath,
    [XLAT64, 'tenant', ...args, '--socket', `${lab.runDir}/xlat64-plat.sock`],
    { encoding: 'utf8', timeout: 60_000 },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function usageRecords(): TenantUsageRecord[] {
  if (!existsSync(USAGE_FILE)) return [];
  return readFileSync(USAGE_FILE, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TenantUsageRecord);
}
/** Subscriber n of a tenant: alone in its /56 inside the tenant's /52. */
const subscriberOf = (tenant: 'a' | 'b' | 'c', n: number) => `2001:db8:1:${tenant}${n}00::2`;
const SUBSCRIBERS = 3;
/** Another /64 in the /56 of isp-a's subscriber 0: isp-a delegates /64s, so another subscriber. */
const SECOND_64_OF_A0 = '2001:db8:1:a001::2';
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
    lab.check('client', ['ip', '-6', 'addr', 'add', `${SECOND_64_OF_A0}/128`, 'dev', 'c0', 'nodad']);
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

  it("a tenant that delegates /64s: a second /64 in a subscriber's /56 is a subscriber of its own", () => {
    // Proves the per-tenant subscriber length end to end: isp-a (subscriberPrefixLength 64, the node's is
    // /56) gives 2001:db8:1:a001::/64 its own subscriber and its own UDP block next to a000::/64's.
    const sent = lab.tool<{ ok: boolean }>('client', [
      'udp-send',
      SERVER_V6,
      String(UDP_PORT),
      '200',
      '--bind',
      SECOND_64_OF_A0,
      '--tag',
      'second-64',
    ]);
    expect(sent.ok).toBe(true);
    let counters: Record<string, number> = {};
    waitUntil(
      () => {
        counters = lab.counters('plat');
        return counters['tenant.isp-a.subscribers'] === SUBSCRIBERS + 1; // recounted every second
      },
      `isp-a to count ${SUBSCRIBERS + 1} subscribers`,
    );
    expect(counters['tenant.isp-a.blocks'], JSON.stringify(counters)).toBe(2 * SUBSCRIBERS + 1);
    const peer = readUdpLog(udpLog).find((l) => l.tag === 'second-64')?.peer ?? '';
    expect(inPool(peer, 0), peer).toBe(true);
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
    // Counted from the reload on, without a restart: status counters and `xlat64 tenant show`.
    expect(lab.counters('plat')['tenant.isp-c.translated64'], 'isp-c counted').toBeGreaterThanOrEqual(1);
    let shown: TenantUsage | undefined;
    waitUntil(() => {
      const r = tenantCli(['show', 'isp-c', '--json']);
      shown = r.code === 0 ? (JSON.parse(r.stdout) as TenantUsage) : undefined;
      return shown !== undefined && shown.subscribers >= 1; // recounted every second
    }, '`xlat64 tenant show isp-c` to count its subscriber');
    expect(shown, JSON.stringify(shown)).toMatchObject({ name: 'isp-c', active: true, blocks: 1 });
    expect(shown?.sessions, JSON.stringify(shown)).toBeGreaterThanOrEqual(1);

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

  it('`xlat64 tenant` lists the tenants with their usage and reloads the configuration file, saying when it is refused', () => {
    // Proves the operator commands: list shows each running tenant's figures (and the removed isp-b
    // while its blocks drain), reload applies an unchanged file (exit 0) and reports a refused one (exit 1).
    const list = tenantCli(['list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^tenant\s+subscribers\s+sessions\s+blocks\s+pool/);
    expect(list.stdout).toMatch(/^isp-a\s+\d+/m);
    expect(list.stdout).toMatch(/^isp-b \(removed\)/m);
    const usage = JSON.parse(tenantCli(['usage']).stdout) as { tenants: TenantUsage[] };
    const a = usage.tenants.find((t) => t.name === 'isp-a');
    expect(a?.pool, JSON.stringify(a)).toMatchObject({ dedicated: true, addresses: 16 });
    expect(a?.blocks).toBeGreaterThanOrEqual(2 * SUBSCRIBERS);
    const file = `${lab.runDir}/xlat64-plat.yaml`;
    const good = readFileSync(file, 'utf8');
    const ok = tenantCli(['reload']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/reloaded, tenants now: isp-a, isp-c/);
    writeFileSync(file, `${good}  - name: isp-a\n    prefixes: [2001:db8:9::/48]\n`);
    const refused = tenantCli(['reload', '--timeout-ms', '2000']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused/);
    writeFileSync(file, good);
  });

  it('the usage records add up to the traffic sent, packets and bytes per tenant and direction', () => {
    // Proves the billing records: after the node is quiet, the records written after a baseline sum to
    // exactly the datagrams sent from isp-a's and isp-c's subscribers and the server's replies to them
    // (IPv6 bytes out, IPv4 bytes back as received), and consecutive records leave no gap.
    const counted = (tenant: string, records: TenantUsageRecord[]) =>
      records
        .filter((r) => r.tenant === tenant)
        .reduce(
          (sum, r) => ({
            packets64: sum.packets64 + r.packets64,
            packets46: sum.packets46 + r.packets46,
            bytes64: sum.bytes64 + r.bytes64,
            bytes46: sum.bytes46 + r.bytes46,
          }),
          { packets64: 0, packets46: 0, bytes64: 0, bytes46: 0 },
        );
    const statusOf = (tenant: string) => {
      const c = lab.counters('plat');
      return {
        packets64: c[`tenant.${tenant}.translated64`] ?? 0,
        packets46: c[`tenant.${tenant}.translated46`] ?? 0,
        bytes64: c[`tenant.${tenant}.bytes64`] ?? 0,
        bytes46: c[`tenant.${tenant}.bytes46`] ?? 0,
      };
    };
    // Every count so far is in the file once a record after it was written: that is the baseline.
    const caughtUp = () =>
      ['isp-a', 'isp-c'].every(
        (t) => JSON.stringify(counted(t, usageRecords())) === JSON.stringify(statusOf(t)),
      );
    waitUntil(caughtUp, 'the usage records to catch up with the status counters', 30_000);
    const baseline = usageRecords().length;
    const sizes = { 'isp-a': [100, 300, 700], 'isp-c': [200, 1000] } as const;
    const sent = new Map<
      string,
      { packets64: number; packets46: number; bytes64: number; bytes46: number }
    >();
    for (const [tenant, list] of Object.entries(sizes)) {
      const total = { packets64: 0, packets46: 0, bytes64: 0, bytes46: 0 };
      for (const [i, size] of list.entries()) {
        const source = subscriberOf(tenant === 'isp-a' ? 'a' : 'c', i % SUBSCRIBERS);
        const r = lab.tool<{ ok: boolean; tries: number; reply: string }>('client', [
          'udp-send',
          SERVER_V6,
          String(UDP_PORT),
          String(size),
          '--bind',
          source,
          '--tag',
          `usage=${tenant}&size=${size}`,
        ]);
        expect(r.ok, `${tenant} ${size}`).toBe(true);
        expect(r.tries, 'one datagram each way (a retry would make the figures uncertain)').toBe(1);
        total.packets64 += 1;
        total.bytes64 += 40 + 8 + size; // IPv6 header, UDP header, payload
        total.packets46 += 1;
        total.bytes46 += 20 + 8 + r.reply.length; // the server's "GOT <n> <sha256>" as IPv4 arrives
      }
      sent.set(tenant, total);
    }
    waitUntil(caughtUp, 'the usage records to hold the traffic sent', 30_000);
    const after = usageRecords().slice(baseline);
    for (const [tenant, total] of sent) expect(counted(tenant, after), tenant).toEqual(total);
    const all = usageRecords().filter((r) => r.tenant === 'isp-a');
    for (let i = 1; i < all.length; i++) expect(all[i].fromMs, 'no gap, no overlap').toBe(all[i - 1].toMs);
    expect(all[0]).toMatchObject({ type: 'xlat64.tenant.usage', version: 1, node: 'e2e-plat' });
  });
});
