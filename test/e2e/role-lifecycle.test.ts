// `xlat64 clat` and `xlat64 plat` configure the kernel at start (TUN device, addresses, routes,
// forwarding) and on SIGTERM remove exactly what they added and restore the sysctls they changed.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));
const ns = `x64t-life-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'x64t-life-'));
const children: ChildProcess[] = [];

const inNs = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
const sysctl = (key: string) => inNs('sysctl', '-n', key).trim();

beforeAll(() => {
  execFileSync('ip', ['netns', 'add', ns]);
  inNs('ip', 'link', 'set', 'lo', 'up');
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  execFileSync('ip', ['netns', 'del', ns]);
  rmSync(dir, { recursive: true, force: true });
});

/** Starts a role in the namespace and resolves once it logged that it is up. */
function startRole(args: string[]): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 20 s: ${log}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (/ up, /.test(log)) {
        clearTimeout(timer);
        resolve({ child, log: () => log });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it was up: ${log}`));
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('role lifecycle', () => {
  it('the CLAT adds its device, 192.0.0.1, the IPv4 default route with MTU 1260 and forwarding, and removes them on SIGTERM', async () => {
    expect(sysctl('net.ipv6.conf.all.forwarding')).toBe('0');
    const { child, log } = await startRole([
      'clat',
      '--device',
      'x64clat',
      '--ipv6-address',
      '2001:db8:1:464::1',
      '--status-socket',
      join(dir, 'clat.sock'),
    ]);
    expect(inNs('ip', '-4', 'addr', 'show', 'dev', 'x64clat')).toContain('192.0.0.1/32');
    expect(inNs('ip', '-4', 'route', 'show', 'default')).toMatch(
      /default dev x64clat .*src 192\.0\.0\.1 .*mtu 1260/,
    );
    expect(inNs('ip', '-6', 'route', 'show', 'dev', 'x64clat')).toContain('2001:db8:1:464::1');
    expect(sysctl('net.ipv6.conf.all.forwarding')).toBe('1');
    expect(await stop(child)).toBe(0);
    expect(log()).toContain('clat: stopped');
    expect(inNs('ip', 'link', 'show')).not.toContain('x64clat');
    expect(inNs('ip', '-4', 'route', 'show')).toBe('');
    expect(sysctl('net.ipv6.conf.all.forwarding')).toBe('0');
  });

  it('in dedicated-prefix mode the CLAT routes the whole prefix into its device and removes the route on SIGTERM', async () => {
    const { child } = await startRole([
      'clat',
      '--device',
      'x64clat',
      '--dedicated-prefix',
      '2001:db8:1:464::/64',
      '--no-default-route',
      '--status-socket',
      join(dir, 'clat.sock'),
    ]);
    expect(inNs('ip', '-6', 'route', 'show', 'dev', 'x64clat')).toContain('2001:db8:1:464::/64');
    const status = JSON.parse(
      inNs(process.execPath, bin, 'status', '--socket', join(dir, 'clat.sock'), '--json'),
    );
    expect(status).toMatchObject({
      ipv6Address: '2001:db8:1:464::1',
      addressMode: 'dedicated 2001:db8:1:464::/64',
    });
    expect(await stop(child)).toBe(0);
    expect(inNs('ip', '-6', 'route', 'show')).not.toContain('2001:db8:1:464::');
  });

  it('the PLAT routes its PREF64 and pool into its device, and removes the routes and restores forwarding on SIGTERM', async () => {
    const { child } = await startRole([
      'plat',
      '--device',
      'x64plat',
      '--pool4',
      '203.0.113.0/24',
      '--state-dir',
      join(dir, 'state'),
      '--status-socket',
      join(dir, 'plat.sock'),
    ]);
    expect(inNs('ip', '-6', 'route', 'show', 'dev', 'x64plat')).toContain('64:ff9b::/96');
    expect(inNs('ip', '-4', 'route', 'show', 'dev', 'x64plat')).toContain('203.0.113.0/24');
    expect(sysctl('net.ipv4.ip_forward')).toBe('1');
    expect(await stop(child)).toBe(0);
    expect(inNs('ip', 'link', 'show')).not.toContain('x64plat');
    expect(inNs('ip', '-6', 'route', 'show')).not.toContain('64:ff9b::');
    expect(sysctl('net.ipv4.ip_forward')).toBe('0');
    expect(sysctl('net.ipv6.conf.all.forwarding')).toBe('0');
  });

  it('a PLAT that cannot start (its device name is taken by another kind of link) leaves nothing behind', async () => {
    inNs('ip', 'link', 'add', 'x64busy', 'type', 'veth', 'peer', 'name', 'x64busyp');
    try {
      await expect(
        startRole([
          'plat',
          '--device',
          'x64busy',
          '--pool4',
          '203.0.113.0/24',
          '--state-dir',
          join(dir, 'state'),
        ]),
      ).rejects.toThrow(/exited with 2 before it was up: xlat64 plat: cannot open TUN device x64busy/);
      expect(inNs('ip', '-6', 'route', 'show')).not.toContain('64:ff9b::');
      expect(sysctl('net.ipv4.ip_forward')).toBe('0');
    } finally {
      inNs('ip', 'link', 'del', 'x64busy');
    }
  });
});
