// End-to-end test of the namespace lab with TAYGA as PLAT and CLAT: brings it up under its own
// x64t-lab-* namespace names, checks ping and HTTP content from the IPv6-only client both through
// NAT64 (64:ff9b::/96) and through the CLAT (plain IPv4), checks up/down are idempotent, and always
// takes the lab down in afterAll, even when a check fails.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LAB = fileURLToPath(new URL('./lab.sh', import.meta.url));
const RUN = '/tmp/x64t-lab';
const env = { ...process.env, X64_LAB_PREFIX: 'x64t-lab', X64_LAB_RUN: RUN, PLAT: 'tayga', CLAT: 'tayga' };
const NS_CLIENT = 'x64t-lab-client';

function lab(command: string): string {
  return execFileSync('bash', [LAB, command], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function labStderr(command: string): string {
  return execFileSync('bash', ['-c', `bash "${LAB}" ${command} 2>&1`], { env, encoding: 'utf8' });
}
function client(...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', NS_CLIENT, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
function clientBytes(...args: string[]): Buffer {
  return execFileSync('ip', ['netns', 'exec', NS_CLIENT, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
  });
}
const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

beforeAll(() => {
  lab('up');
});

afterAll(() => {
  lab('down');
});

describe('infra/lab with TAYGA as PLAT and CLAT', () => {
  it('is up with every process it started running, and a second up leaves it as it is', () => {
    const status = lab('status');
    expect(status).toContain('state: up');
    expect(status).toMatch(/tayga-plat: pid \d+ running/);
    expect(status).toMatch(/tayga-clat: pid \d+ running/);
    expect(status).toMatch(/http: pid \d+ running/);
    expect(status).toMatch(/iperf3: pid \d+ running/);
    const pidBefore = readFileSync(`${RUN}/tayga-plat.pid`, 'utf8');
    expect(labStderr('up')).toContain('already up');
    expect(readFileSync(`${RUN}/tayga-plat.pid`, 'utf8')).toBe(pidBefore);
  });

  it('keeps the client IPv6-only: its only IPv4 address is the CLAT address on the CLAT device', () => {
    const v4 = client('ip', '-4', '-o', 'addr', 'show').trim().split('\n');
    const nonLoopback = v4.filter((line) => !/ lo /.test(line));
    expect(nonLoopback).toHaveLength(1);
    expect(nonLoopback[0]).toMatch(/clat46 +inet 192\.0\.0\.1\//);
  });

  it('reaches the IPv4-only server from the IPv6-only client through NAT64 at 64:ff9b::/96 (ping and HTTP content)', () => {
    expect(client('ping', '-6', '-c', '1', '-W', '5', '64:ff9b::198.51.100.2')).toContain('1 received');
    const body = client('curl', '-sS', '-g', '--max-time', '10', 'http://[64:ff9b::198.51.100.2]:8000/');
    expect(body.trim()).toBe('hello from x64-server (IPv4-only) via NAT64');
  });

  it('reaches the server by plain IPv4 through the CLAT, and a 4 MiB download arrives intact', () => {
    expect(client('ping', '-c', '1', '-W', '5', '198.51.100.2')).toContain('1 received');
    const file = clientBytes('curl', '-sS', '--max-time', '30', 'http://198.51.100.2:8000/4MiB.bin');
    expect(file.length).toBe(4 * 1024 * 1024);
    const want = readFileSync(`${RUN}/www/4MiB.sha256`, 'utf8').trim();
    expect(createHash('sha256').update(file).digest('hex')).toBe(want);
  });

  it('shows the server the NAT64 pool (203.0.113.0/24) as the client address', () => {
    const log = readFileSync(`${RUN}/http.log`, 'utf8');
    expect(log).toMatch(/^203\.0\.113\.\d+ .*"GET \/ HTTP/m);
    expect(log).not.toMatch(/^(192\.0\.[02]\.|198\.51\.100\.)/m);
  });

  it('verify reports OK', () => {
    expect(labStderr('verify')).toContain('verify: OK');
  });
});

describe('infra/lab down', () => {
  it('removes its namespaces and stops the processes it recorded, and a second down is harmless', () => {
    const pids = ['tayga-plat', 'tayga-clat', 'http', 'iperf3'].map((name) =>
      Number(readFileSync(`${RUN}/${name}.pid`, 'utf8').trim()),
    );
    lab('down');
    lab('down');
    expect(namespaces()).not.toMatch(/x64t-lab-/);
    expect(existsSync(RUN)).toBe(false);
    for (const pid of pids) {
      const state = existsSync(`/proc/${pid}/stat`)
        ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2]
        : 'gone';
      expect(['gone', 'Z']).toContain(state);
    }
  });
});
