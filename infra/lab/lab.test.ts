// End-to-end tests of the namespace lab (through lab.ts, the handle test suites use): with TAYGA as
// PLAT and CLAT it serves ping and HTTP content to the IPv6-only client through NAT64 and through the
// CLAT; a stand-in for `xlat64 clat` is started, completed and stopped the way the README promises;
// a failing PLAT command fails `up` without leaving namespaces; `up` and `down` are idempotent. Each
// part takes its lab down in afterAll, even when a check fails.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab } from './lab.js';

// The test process's PID in the names: two test runs on one machine each have their own lab.
const PREFIX = `x64t-lab-${process.pid}`;
const RUN = `/tmp/${PREFIX}`;
const OURS = new RegExp(`^${PREFIX}-`, 'm');
const HELLO = 'hello from x64-server (IPv4-only) via NAT64';
const namespaces = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const gone = (pid: number) => {
  const state = existsSync(`/proc/${pid}/stat`)
    ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2]
    : 'gone';
  return state === 'gone' || state === 'Z';
};

describe('infra/lab with TAYGA as PLAT and CLAT', () => {
  const lab = createLab({ prefix: PREFIX, runDir: RUN, plat: 'tayga', clat: 'tayga' });
  const client = (...command: string[]) => lab.exec('client', command).toString();

  beforeAll(() => {
    lab.up();
  });

  afterAll(() => {
    lab.down();
  });

  it('is up with every process it started running, and a second up leaves it as it is', () => {
    const status = lab.status();
    expect(status).toContain('state: up');
    for (const name of ['tayga-plat', 'tayga-clat', 'http', 'iperf3']) {
      expect(status).toMatch(new RegExp(`${name}: pid \\d+ running`));
    }
    const pidBefore = readFileSync(`${RUN}/tayga-plat.pid`, 'utf8');
    expect(lab.up()).toContain('already up');
    expect(readFileSync(`${RUN}/tayga-plat.pid`, 'utf8')).toBe(pidBefore);
    expect(lab.env()).toMatchObject({
      NS_CLIENT: `${PREFIX}-client`,
      PREF64: '64:ff9b::/96',
      POOL4: '203.0.113.0/24',
    });
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
    expect(body.trim()).toBe(HELLO);
  });

  it('reaches the server by plain IPv4 through the CLAT, and a 4 MiB download arrives intact', () => {
    expect(client('ping', '-c', '1', '-W', '5', '198.51.100.2')).toContain('1 received');
    const file = lab.exec('client', ['curl', '-sS', '--max-time', '30', 'http://198.51.100.2:8000/4MiB.bin']);
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
    expect(lab.verify()).toContain('verify: OK');
  });

  it('down removes its namespaces and stops the processes it recorded, and a second down is harmless', () => {
    const pids = ['tayga-plat', 'tayga-clat', 'http', 'iperf3'].map((name) =>
      Number(readFileSync(`${RUN}/${name}.pid`, 'utf8').trim()),
    );
    lab.down();
    lab.down();
    expect(namespaces()).not.toMatch(OURS);
    expect(existsSync(RUN)).toBe(false);
    for (const pid of pids) expect(gone(pid)).toBe(true);
  });
});

describe('infra/lab with a stand-in for `xlat64 clat`', () => {
  const standIn = `${RUN}-standin`;
  // TAYGA in the foreground plays the xlat64 CLAT: it only creates the clat46 TUN and translates; the
  // lab must start it, record its PID, wait for the device and add the address and routes itself.
  const lab = createLab({
    prefix: PREFIX,
    runDir: RUN,
    plat: 'tayga',
    clat: 'xlat64',
    xlat64ClatCommand: `tayga -d -c ${standIn}/clat.conf`,
  });

  beforeAll(() => {
    mkdirSync(standIn, { recursive: true });
    writeFileSync(
      `${standIn}/clat.conf`,
      [
        'tun-device clat46',
        'ipv4-addr 192.0.0.2',
        'ipv6-addr 2001:db8:1:464::2',
        'prefix 2001:db8:64::/96',
        'map 192.0.0.1 2001:db8:1:464::1',
        `data-dir ${standIn}`,
        '',
      ].join('\n'),
    );
    lab.up();
  });

  afterAll(() => {
    lab.down();
    rmSync(standIn, { recursive: true, force: true });
  });

  it('starts the CLAT command in the client namespace, records its PID and completes the CLAT set-up so IPv4 works', () => {
    expect(lab.status()).toMatch(/xlat64-clat: pid \d+ running/);
    expect(lab.exec('client', ['ip', '-4', '-o', 'addr', 'show', 'dev', 'clat46']).toString()).toContain(
      '192.0.0.1/29',
    );
    expect(lab.exec('client', ['ip', '-4', 'route', 'show', 'default']).toString()).toMatch(
      /dev clat46 .*mtu 1480/,
    );
    const body = lab
      .exec('client', ['curl', '-sS', '--max-time', '10', 'http://198.51.100.2:8000/'])
      .toString();
    expect(body.trim()).toBe(HELLO);
  });

  it('down stops the CLAT command by its recorded PID', () => {
    const pid = Number(readFileSync(`${RUN}/xlat64-clat.pid`, 'utf8').trim());
    lab.down();
    expect(gone(pid)).toBe(true);
    expect(namespaces()).not.toMatch(OURS);
  });
});

describe('infra/lab with a PLAT command that fails', () => {
  const lab = createLab({
    prefix: PREFIX,
    runDir: RUN,
    plat: 'xlat64',
    clat: 'none',
    xlat64PlatCommand: 'sh -c "echo cannot-start-for-test >&2; exit 3"',
  });

  afterAll(() => {
    lab.down();
  });

  it('fails `up` with the command log, and leaves no namespace behind', () => {
    let output = '';
    try {
      lab.up();
    } catch (error) {
      output = String((error as { stdout?: string }).stdout);
    }
    expect(output).toContain('exited before creating plat64');
    expect(output).toContain('cannot-start-for-test');
    expect(namespaces()).not.toMatch(OURS);
  });
});
