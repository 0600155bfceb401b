// The CLAT finds its PREF64 itself in a five-namespace network with two PLATs: from router
// advertisements that scapy (not xlat64) encodes in the router's namespace; from DNS64 (Debian's
// unbound) when the RA option is withdrawn; a prefix change mid-run re-plumbs the running CLAT
// (ping works before and after, and the traffic moves to the other PLAT); a malformed option is
// ignored and counted; with both PLATs' prefixes advertised, stopping the preferred PLAT moves new
// traffic to the other once the probe notices. The CLAT's address is one /128 out of the client's
// uplink /64, reached through proxy NDP (RFC 6877 sec. 6.3).
//
//   client ── c0/r0 ── router ── ra/a0 ── plat-a (64:ff9b::/96, pool 203.0.113.0/25) ── a1/sa ──┐
//   clat46            unbound     rb/b0 ── plat-b (2001:db8:64::/96, 203.0.113.128/25) ─ b1/sb ── server 198.51.100.2
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordNamespaceOwner } from '../../infra/lab/global-teardown.js';
import { scapyPython } from '../support/scapy.js';
import { startUnbound, type Unbound } from '../support/unbound.js';
import { namespaceProcesses, sleep } from './helpers/namespace-processes.js';

const BIN = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));
const RA_SENDER = fileURLToPath(new URL('./helpers/ra_sender.py', import.meta.url));
const PREFIX_A = '64:ff9b::/96';
const PREFIX_B = '2001:db8:64::/96';
const SERVER = '198.51.100.2';

type Node = 'client' | 'router' | 'plata' | 'platb' | 'server';
const NS: Record<Node, string> = {
  client: `x64t-cd-c-${process.pid}`,
  router: `x64t-cd-r-${process.pid}`,
  plata: `x64t-cd-a-${process.pid}`,
  platb: `x64t-cd-b-${process.pid}`,
  server: `x64t-cd-s-${process.pid}`,
};
const dir = mkdtempSync(join(tmpdir(), 'x64t-cd-'));
let unbound: Unbound | null = null;

const { run, sh, background, stopChild, stopAll } = namespaceProcesses(NS, dir);

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const pref64 = JSON.stringify(clatStatus()?.pref64);
      throw new Error(`timed out waiting for ${what}; CLAT pref64 status ${pref64}; logs in ${dir}`);
    }
    await sleep(100);
  }
}

interface Candidate {
  prefix: string;
  source: string;
  probe?: { state: string; rttMs: number | null; lost: number };
}
interface StatusDoc {
  pid: number;
  counters: Record<string, number>;
  pref64: {
    active: string;
    source: string;
    from?: string;
    draining: string | null;
    candidates: Candidate[];
    counters: Record<string, number>;
  };
}

function status(node: Node, socket: string): StatusDoc | undefined {
  const result = run(node, process.execPath, BIN, 'status', '--socket', socket, '--json');
  return result.status === 0 ? (JSON.parse(result.stdout) as StatusDoc) : undefined;
}
const clatStatus = () => status('client', join(dir, 'clat.sock'));
const platPackets = (node: 'plata' | 'platb') => {
  const doc = status(node, join(dir, `${node}.sock`));
  return (doc?.counters['tx.packets46'] ?? 0) as number;
};
const ping = () => run('client', 'ping', '-c', '1', '-W', '2', SERVER).status === 0;

function link(a: Node, aName: string, b: Node, bName: string): void {
  sh(a, 'ip', 'link', 'add', aName, 'type', 'veth', 'peer', 'name', bName, 'netns', NS[b]);
  sh(a, 'ip', 'link', 'set', aName, 'up');
  sh(b, 'ip', 'link', 'set', bName, 'up');
}
const addr = (node: Node, dev: string, address: string) =>
  sh(node, 'ip', 'addr', 'add', address, 'dev', dev, ...(address.includes(':') ? ['nodad'] : []));

function linkLocal(node: Node, dev: string): string {
  const out = sh(node, 'ip', '-6', '-o', 'addr', 'show', 'dev', dev, 'scope', 'link');
  return /inet6 (fe80::[0-9a-f:]+)\//.exec(out)![1];
}

function startPlat(node: 'plata' | 'platb', prefix: string, pool: string): ChildProcess {
  const config = join(dir, `${node}.yaml`);
  writeFileSync(
    config,
    [
      'device: plat64',
      `prefix: ${prefix}`,
      'allowNonGlobalIpv4: true',
      `pool4: [${pool}]`,
      `statusSocket: ${join(dir, `${node}.sock`)}`,
      `stateDir: ${join(dir, `${node}-state`)}`,
      '',
    ].join('\n'),
  );
  return background(node, node, [process.execPath, BIN, 'plat', '--config', config]);
}

let routerLinkLocal = '';
/** Starts (or replaces) the scapy RA sender in the router namespace. */
async function sendRas(args: string[]): Promise<void> {
  await stopChild('ra-sender');
  background('router', 'ra-sender', [
    scapyPython(),
    RA_SENDER,
    'r0',
    routerLinkLocal,
    '--interval',
    '0.5',
    ...args,
  ]);
}
function sendRaOnce(args: string[]): void {
  sh('router', scapyPython(), RA_SENDER, 'r0', routerLinkLocal, '--count', '1', ...args);
}

beforeAll(async () => {
  for (const ns of Object.values(NS)) {
    recordNamespaceOwner(ns);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  }
  link('client', 'c0', 'router', 'r0');
  link('router', 'ra', 'plata', 'a0');
  link('router', 'rb', 'platb', 'b0');
  link('plata', 'a1', 'server', 'sa');
  link('platb', 'b1', 'server', 'sb');
  addr('client', 'c0', '2001:db8:1::2/64');
  addr('router', 'r0', '2001:db8:1::1/64');
  addr('router', 'ra', '2001:db8:a::1/64');
  addr('router', 'rb', '2001:db8:b::1/64');
  addr('plata', 'a0', '2001:db8:a::2/64');
  addr('platb', 'b0', '2001:db8:b::2/64');
  addr('plata', 'a1', '192.0.2.1/26');
  addr('server', 'sa', '192.0.2.2/26');
  addr('platb', 'b1', '192.0.2.65/26');
  addr('server', 'sb', '192.0.2.66/26');
  addr('server', 'lo', `${SERVER}/32`);
  sh('client', 'ip', '-6', 'route', 'add', 'default', 'via', '2001:db8:1::1');
  sh('router', 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1');
  sh('router', 'ip', '-6', 'route', 'add', PREFIX_A, 'via', '2001:db8:a::2');
  sh('router', 'ip', '-6', 'route', 'add', PREFIX_B, 'via', '2001:db8:b::2');
  for (const [node, via4, via6] of [
    ['plata', '192.0.2.2', '2001:db8:a::1'],
    ['platb', '192.0.2.66', '2001:db8:b::1'],
  ] as const) {
    sh(node, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1');
    sh(node, 'ip', 'route', 'add', 'default', 'via', via4);
    sh(node, 'ip', '-6', 'route', 'add', '2001:db8:1::/48', 'via', via6);
  }
  sh('server', 'ip', 'route', 'add', '203.0.113.0/25', 'via', '192.0.2.1');
  sh('server', 'ip', 'route', 'add', '203.0.113.128/25', 'via', '192.0.2.65');
  routerLinkLocal = await waitFor('the router link-local address', () => {
    const out = run('router', 'ip', '-6', '-o', 'addr', 'show', 'dev', 'r0', 'scope', 'link').stdout;
    return /inet6 fe80/.test(out) && !/tentative/.test(out) ? linkLocal('router', 'r0') : undefined;
  });
  startPlat('plata', PREFIX_A, '203.0.113.0/25');
  startPlat('platb', PREFIX_B, '203.0.113.128/25');
  // DNS64 synthesizes with plat A's prefix: what the CLAT falls back to when RAs stop carrying one.
  unbound = await startUnbound({
    dns64Prefix: PREFIX_A,
    address: '2001:db8:1::1',
    wrapper: ['ip', 'netns', 'exec', NS.router],
  });
  await waitFor(
    'both PLATs',
    () => status('plata', join(dir, 'plata.sock')) && status('platb', join(dir, 'platb.sock')),
  );
  // The CLAT's configured last resort has no PLAT behind it: any traffic that works came through discovery.
  writeFileSync(
    join(dir, 'clat.yaml'),
    [
      'device: clat46',
      'ipv4Address: 192.0.0.1',
      // RFC 6877 sec. 6.3's second address mode: one /128 out of the uplink's own /64, answered for
      // by proxy NDP (the router has no route for it: it resolves it on the link like any neighbour).
      'ipv6Address: 2001:db8:1::464',
      'ndpProxyDevice: c0',
      'prefix: [2001:db8:99::/96]',
      'allowNonGlobalIpv4: true',
      'ipv6Mtu: 1500',
      `dnsServers: ['[2001:db8:1::1]:${unbound.port}']`,
      `probeIpv4Address: ${SERVER}`,
      'probeIntervalMs: 300',
      'probeLossThreshold: 3',
      'prefixDrainMs: 2000',
      `statusSocket: ${join(dir, 'clat.sock')}`,
      '',
    ].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await stopAll();
  await unbound?.stop();
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
  // X64T_KEEP=1 keeps the logs (CLAT, PLATs, RA sender) for a look after the run.
  if (process.env.X64T_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`clat-discovery logs kept in ${dir}\n`);
}, 60_000);

describe('CLAT PREF64 discovery, re-plumbing and PLAT failover', () => {
  it('learns the prefix from router advertisements (scapy), and pings through that PLAT', async () => {
    await sendRas(['--prefix', PREFIX_B, '--lifetime', '600']);
    background('client', 'clat', [process.execPath, BIN, 'clat', '--config', join(dir, 'clat.yaml')]);
    const doc = await waitFor('the CLAT to take the RA prefix', () => {
      const d = clatStatus();
      return d?.pref64?.active === PREFIX_B ? d : undefined;
    });
    expect(doc.pref64.source).toBe('ra');
    expect(doc.pref64.from).toBe(routerLinkLocal);
    const before = platPackets('platb');
    expect(ping()).toBe(true);
    expect(platPackets('platb')).toBeGreaterThan(before);
    // The replies found the CLAT's /128 through the client's proxy NDP answer on the shared link.
    expect(sh('router', 'ip', '-6', 'neigh', 'show', '2001:db8:1::464', 'dev', 'r0')).toMatch(/lladdr/);
  });

  it('re-plumbs without a restart when the advertised prefix changes; ping works after', async () => {
    const pid = clatStatus()!.pid;
    await sendRas(['--prefix', PREFIX_A, '--lifetime', '600']);
    const doc = await waitFor('the CLAT to move to the new RA prefix', () => {
      const d = clatStatus();
      return d?.pref64?.active === PREFIX_A ? d : undefined;
    });
    expect(doc.pid).toBe(pid);
    expect(doc.pref64.draining).toBe(PREFIX_B);
    expect(doc.pref64.counters['pref64.changes']).toBeGreaterThanOrEqual(1);
    const before = platPackets('plata');
    expect(ping()).toBe(true);
    expect(platPackets('plata')).toBeGreaterThan(before);
    // Every queue worker has taken the new prefix.
    await waitFor('the workers to swap', () => (clatStatus()?.counters['prefix.swaps'] ?? 0) >= 2);
  });

  it('ignores and counts a malformed PREF64 option, keeping the valid one of the same RA', async () => {
    sendRaOnce(['--prefix', PREFIX_A, '--lifetime', '600', '--bad-plc']);
    const doc = await waitFor('the malformed option to be counted', () => {
      const d = clatStatus();
      return (d?.pref64?.counters['ra.malformed.pref64plc'] ?? 0) >= 1 ? d : undefined;
    });
    expect(doc.pref64.active).toBe(PREFIX_A);
    const log = readFileSync(join(dir, 'clat.log'), 'utf8');
    expect(log).toMatch(/PREF64 option ignored: prefix length code 7/);
  });

  it('falls back to DNS64 (unbound) when the router withdraws the option', async () => {
    // Advertise plat B again, then withdraw it (lifetime 0): DNS64 says plat A.
    await sendRas(['--prefix', PREFIX_B, '--lifetime', '600']);
    await waitFor('the CLAT to take plat B', () => clatStatus()?.pref64?.active === PREFIX_B);
    await stopChild('ra-sender');
    sendRaOnce(['--prefix', PREFIX_B, '--lifetime', '0']);
    const doc = await waitFor('the CLAT to take the DNS64 prefix', () => {
      const d = clatStatus();
      return d?.pref64?.source === 'dns' ? d : undefined;
    });
    expect(doc.pref64.active).toBe(PREFIX_A);
    expect(doc.pref64.counters['ra.withdrawn']).toBeGreaterThanOrEqual(1);
    expect(doc.pref64.counters['dns.answers']).toBeGreaterThanOrEqual(1);
    const before = platPackets('plata');
    expect(ping()).toBe(true);
    expect(platPackets('plata')).toBeGreaterThan(before);
  });

  it('with both PLATs advertised, uses the first that answers and moves when it stops', async () => {
    await sendRas(['--prefix', PREFIX_A, '--prefix', PREFIX_B, '--lifetime', '600']);
    const doc = await waitFor('both prefixes up and plat A preferred', () => {
      const d = clatStatus();
      const probes = d?.pref64?.candidates.map((c) => c.probe?.state);
      return d?.pref64?.active === PREFIX_A && probes?.[0] === 'up' && probes?.[1] === 'up' ? d : undefined;
    });
    expect(doc.pref64.candidates[0].probe?.rttMs).toBeGreaterThan(0);
    expect(ping()).toBe(true);
    await stopChild('plata');
    const moved = await waitFor('the CLAT to move to plat B', () => {
      const d = clatStatus();
      return d?.pref64?.active === PREFIX_B ? d : undefined;
    });
    expect(moved.pref64.counters['probe.failovers']).toBeGreaterThanOrEqual(1);
    expect(moved.pref64.candidates[0]).toMatchObject({ prefix: PREFIX_A, probe: { state: 'down' } });
    expect(moved.pref64.candidates[0].probe?.lost).toBeGreaterThanOrEqual(3);
    const before = platPackets('platb');
    expect(ping()).toBe(true);
    expect(platPackets('platb')).toBeGreaterThan(before);
  });
});
