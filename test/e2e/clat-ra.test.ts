// The CLAT's router discovery against RAs that scapy (not xlat64) builds, on a two-namespace link with
// no unsolicited RAs at all: the CLAT gets its PREF64 only because it sends a router solicitation at
// start; RAs with a hop limit other than 255 or a source that is not link-local are dropped and
// counted (RFC 4861 sec. 6.1.2); and when the uplink is deleted and created again (a new interface
// index) the CLAT reopens its socket on it and solicits again, taking the prefix the router answers with.
//
//   client (clat46, uplink c0) ── c0/r0 ── router (scapy: answers router solicitations only)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordNamespaceOwner } from '../../infra/lab/global-teardown.js';
import { scapyPython } from '../support/scapy.js';
import { namespaceProcesses, sleep } from './helpers/namespace-processes.js';

const BIN = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));
const RA_SENDER = fileURLToPath(new URL('./helpers/ra_sender.py', import.meta.url));
const PREFIX_A = '64:ff9b::/96';
const PREFIX_B = '2001:db8:64::/96';
const CONFIGURED = '2001:db8:99::/96';
const NS = { client: `x64t-cra-c-${process.pid}`, router: `x64t-cra-r-${process.pid}` };
const dir = mkdtempSync(join(tmpdir(), 'x64t-cra-'));

const { run, sh, background, stopChild, stopAll, logOf } = namespaceProcesses(NS, dir);

interface StatusDoc {
  pid: number;
  pref64: { active: string; source: string; from?: string; counters: Record<string, number> };
}
function clatStatus(): StatusDoc | undefined {
  const result = run('client', process.execPath, BIN, 'status', '--socket', join(dir, 'clat.sock'), '--json');
  return result.status === 0 ? (JSON.parse(result.stdout) as StatusDoc) : undefined;
}
const counter = (name: string) => clatStatus()?.pref64.counters[name] ?? 0;

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}; CLAT pref64 ${JSON.stringify(clatStatus()?.pref64)}; CLAT log:\n${logOf('clat')}\nRA answerer log:\n${logOf('answerer')}`,
      );
    }
    await sleep(100);
  }
}

function linkUp(): void {
  sh('client', 'ip', 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'r0', 'netns', NS.router);
  sh('client', 'ip', 'link', 'set', 'c0', 'up');
  sh('router', 'ip', 'link', 'set', 'r0', 'up');
}

async function routerLinkLocal(): Promise<string> {
  return waitFor('the router link-local address', () => {
    const out = run('router', 'ip', '-6', '-o', 'addr', 'show', 'dev', 'r0', 'scope', 'link').stdout;
    if (!/inet6 fe80/.test(out) || /tentative/.test(out)) return undefined;
    return /inet6 (fe80::[0-9a-f:]+)\//.exec(out)![1];
  });
}

/** Starts scapy answering router solicitations on r0 with one PREF64, and waits until it listens. */
async function answerSolicitations(prefix: string): Promise<void> {
  await stopChild('answerer');
  rmSync(join(dir, 'answerer.log'), { force: true });
  const source = await routerLinkLocal();
  background('router', 'answerer', [
    scapyPython(),
    RA_SENDER,
    'r0',
    source,
    '--answer-rs',
    '--prefix',
    prefix,
  ]);
  await waitFor('scapy to listen', () => logOf('answerer').includes('listening'), 120_000);
}

function sendRaOnce(source: string, extra: string[]): void {
  sh('router', scapyPython(), RA_SENDER, 'r0', source, '--count', '1', ...extra);
}

beforeAll(async () => {
  for (const ns of Object.values(NS)) {
    recordNamespaceOwner(ns);
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    // The kernel's own router solicitations would get answers too: only the CLAT's may here.
    execFileSync('ip', [
      'netns',
      'exec',
      ns,
      'sysctl',
      '-qw',
      'net.ipv6.conf.default.router_solicitations=0',
    ]);
  }
  linkUp();
  sh('router', 'ip', 'addr', 'add', '2001:db8:1::1/64', 'dev', 'r0', 'nodad');
  writeFileSync(
    join(dir, 'clat.yaml'),
    [
      'device: clat46',
      'ipv6Address: 2001:db8:1::464',
      'raDevice: c0',
      `prefix: [${CONFIGURED}]`,
      'dns64Discovery: false',
      'allowNonGlobalIpv4: true',
      'ipv6Mtu: 1500',
      `statusSocket: ${join(dir, 'clat.sock')}`,
      '',
    ].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await stopAll();
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'del', ns]);
  if (process.env.X64T_KEEP === undefined) rmSync(dir, { recursive: true, force: true });
  else process.stderr.write(`clat-ra logs kept in ${dir}\n`);
}, 60_000);

describe('CLAT router discovery: solicitation, RFC 4861 checks, uplink coming back', () => {
  it('solicits at start and takes the PREF64 of the answer (the router sends no unsolicited RA)', async () => {
    await answerSolicitations(PREFIX_A);
    background('client', 'clat', [process.execPath, BIN, 'clat', '--config', join(dir, 'clat.yaml')]);
    const doc = await waitFor('the CLAT to take the solicited prefix', () => {
      const d = clatStatus();
      return d?.pref64.active === PREFIX_A ? d : undefined;
    });
    expect(doc.pref64.source).toBe('ra');
    expect(doc.pref64.from).toBe(await routerLinkLocal());
    expect(doc.pref64.counters['rs.sent']).toBeGreaterThanOrEqual(1);
    // scapy saw the solicitation, sent from the CLAT host's link-local address on c0.
    const clientLinkLocal = /inet6 (fe80::[0-9a-f:]+)\//.exec(
      sh('client', 'ip', '-6', '-o', 'addr', 'show', 'dev', 'c0', 'scope', 'link'),
    )![1];
    expect(logOf('answerer')).toContain(`answered RS from ${clientLinkLocal}`);
  });

  it('drops and counts an RA whose hop limit is not 255, and one from a global source', async () => {
    sendRaOnce(await routerLinkLocal(), ['--prefix', PREFIX_B, '--hlim', '64']);
    await waitFor('the hop-limit drop to be counted', () => counter('ra.malformed.hoplimit') >= 1);
    sendRaOnce('2001:db8:1::1', ['--prefix', PREFIX_B]);
    await waitFor('the source drop to be counted', () => counter('ra.malformed.source') >= 1);
    const doc = clatStatus()!;
    expect(doc.pref64.active).toBe(PREFIX_A);
    expect(logOf('clat')).toMatch(/hop limit 64, not 255/);
    expect(logOf('clat')).toMatch(/the source is not link-local/);
  });

  it('reopens its socket when the uplink is deleted and comes back, and solicits on it again', async () => {
    const pid = clatStatus()!.pid;
    const solicited = counter('rs.sent');
    await stopChild('answerer');
    sh('client', 'ip', 'link', 'del', 'c0');
    await waitFor('the CLAT to notice the uplink is gone', () => counter('ra.socket.errors') >= 1);
    linkUp();
    // Only a solicitation on the new c0 can bring this prefix: the router answers and nothing else.
    await answerSolicitations(PREFIX_B);
    const doc = await waitFor(
      'the CLAT to take the prefix answered on the new uplink',
      () => {
        const d = clatStatus();
        return d?.pref64.active === PREFIX_B ? d : undefined;
      },
      60_000,
    );
    expect(doc.pid).toBe(pid);
    expect(doc.pref64.counters['ra.socket.reopens']).toBeGreaterThanOrEqual(1);
    expect(doc.pref64.counters['rs.sent']).toBeGreaterThan(solicited);
  });
});
