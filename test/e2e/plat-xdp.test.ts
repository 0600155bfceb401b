// `xlat64 plat --io xdp --interface IF6 --interface IF4` end to end: the command attaches libs/xdp to
// the PLAT's IPv6-side and IPv4-side veths (native mode, said at start and in `xlat64 status`), an
// IPv6-only client's UDP reaches an IPv4-only server through the PREF64 and the reply comes back, and on
// SIGTERM the programs and sockets are gone from both interfaces. With `--metrics` the XDP role serves
// the same Prometheus metrics as the TUN role, pool use per address included. Namespaces x64t-*-<pid>.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../infra/lab/global-teardown.js';
import { attachedProgram } from '../../libs/xdp/src/index.js';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));
const NS_CLIENT = `x64t-exc-${process.pid}`;
const NS_PLAT = `x64t-exp-${process.pid}`;
const NS_SERVER = `x64t-exs-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'x64t-plat-xdp-'));
const children: ChildProcess[] = [];

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const inNs = (ns: string, ...args: string[]) =>
  execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });
const oneQueue = ['numtxqueues', '1', 'numrxqueues', '1'];

beforeAll(() => {
  for (const ns of [NS_CLIENT, NS_PLAT, NS_SERVER]) {
    recordNamespaceOwner(ns);
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  // IPv6-only client --- b6 [PLAT] b4 --- IPv4-only server: the PLAT sits between two links.
  ip(
    '-n',
    NS_CLIENT,
    'link',
    'add',
    'c0',
    ...oneQueue,
    'type',
    'veth',
    'peer',
    'name',
    'b6',
    'netns',
    NS_PLAT,
    ...oneQueue,
  );
  ip(
    '-n',
    NS_SERVER,
    'link',
    'add',
    's0',
    ...oneQueue,
    'type',
    'veth',
    'peer',
    'name',
    'b4',
    'netns',
    NS_PLAT,
    ...oneQueue,
  );
  ip('-n', NS_CLIENT, 'addr', 'add', '2001:db8::1/64', 'dev', 'c0', 'nodad');
  ip('-n', NS_PLAT, 'addr', 'add', '2001:db8::2/64', 'dev', 'b6', 'nodad');
  ip('-n', NS_PLAT, 'addr', 'add', '192.0.2.2/24', 'dev', 'b4');
  ip('-n', NS_SERVER, 'addr', 'add', '192.0.2.1/24', 'dev', 's0');
  ip('-n', NS_CLIENT, 'link', 'set', 'c0', 'up');
  ip('-n', NS_PLAT, 'link', 'set', 'b6', 'up');
  ip('-n', NS_PLAT, 'link', 'set', 'b4', 'up');
  ip('-n', NS_SERVER, 'link', 'set', 's0', 'up');
  ip('-n', NS_CLIENT, 'route', 'add', '64:ff9b::/96', 'via', '2001:db8::2');
  ip('-n', NS_SERVER, 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.2');
  // Complete checksums on the frames AF_XDP sees (a veth otherwise leaves them to offload).
  inNs(NS_CLIENT, 'ethtool', '-K', 'c0', 'tx', 'off');
  inNs(NS_SERVER, 'ethtool', '-K', 's0', 'tx', 'off');
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const ns of [NS_CLIENT, NS_PLAT, NS_SERVER]) {
    try {
      ip('netns', 'del', ns);
    } catch {}
    forgetNamespaceOwner(ns);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('xlat64 plat --io xdp', () => {
  it('translates between an IPv6 and an IPv4 interface through AF_XDP on both, reports native mode, and detaches on SIGTERM', async () => {
    const socket = join(dir, 'plat.sock');
    const args = [
      'plat',
      '--io',
      'xdp',
      '--interface',
      'b6',
      '--interface',
      'b4',
      '--pool4',
      '198.51.100.0/24',
    ];
    args.push('--allow-non-global', '--state-dir', dir, '--status-socket', socket);
    args.push('--metrics', '127.0.0.1:9464');
    const child = spawn('ip', ['netns', 'exec', NS_PLAT, process.execPath, bin, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start within 30 s: ${log}`)), 30_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        log += chunk.toString();
        if (/ up, /.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`exited with ${code} before it was up: ${log}`));
      });
    });
    expect(log).toMatch(/plat: b6\+b4 up, AF_XDP native mode/);
    for (const dev of ['b6', 'b4'])
      expect(attachedProgram(dev, `/run/netns/${NS_PLAT}`)).toMatchObject({
        name: 'xlat64_xdp',
        mode: 'native',
      });

    const echo =
      "import socket\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('192.0.2.1', 9999))\n" +
      "while True:\n  d,a=s.recvfrom(100); s.sendto(b'reply:'+d+b' from-'+a[0].encode(), a)";
    const server = spawn('ip', ['netns', 'exec', NS_SERVER, 'python3', '-c', echo], { stdio: 'ignore' });
    children.push(server);
    const out = inNs(
      NS_CLIENT,
      'python3',
      '-c',
      [
        'import socket',
        "cli=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); cli.bind(('2001:db8::1', 0)); cli.settimeout(0.2)",
        'for _ in range(50):',
        "  cli.sendto(b'via-xdp', ('64:ff9b::c000:201', 9999))",
        '  try:',
        '    r,frm=cli.recvfrom(100); print(r.decode(), frm[0]); break',
        '  except socket.timeout:',
        '    pass',
      ].join('\n'),
    ).trim();
    server.kill('SIGKILL');
    // The server saw a pool address; the client got the answer from the server's embedded address.
    expect(out).toMatch(/^reply:via-xdp from-198\.51\.100\.\d+ 64:ff9b::c000:201$/);

    const status = JSON.parse(inNs(NS_PLAT, process.execPath, bin, 'status', '--socket', socket, '--json'));
    expect(status).toMatchObject({
      role: 'plat',
      io: 'xdp',
      interface: 'b6 (IPv6), b4 (IPv4)',
      xdpMode: 'native',
      zeroCopy: false,
      zeroCopyRefused: 'EOPNOTSUPP', // veth: no AF_XDP zero-copy driver, so copy mode
    });
    expect(status.counters['rx.packets']).toBeGreaterThanOrEqual(2);
    expect(status.xdpProgram.redirected).toBeGreaterThanOrEqual(1); // IPv6 in on b6
    expect(status.xdpProgram4.redirected).toBeGreaterThanOrEqual(1); // IPv4 replies in on b4

    // The XDP role's Prometheus endpoint has the TUN role's counters, with the status socket's values
    // (the flow is over, so they hold still), and the pool address the server saw holds the one lease.
    const poolAddress = /from-(198\.51\.100\.\d+)/.exec(out)![1];
    const text = inNs(NS_PLAT, 'curl', '-sS', '--max-time', '10', 'http://127.0.0.1:9464/metrics');
    const sample = (name: string, labels: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
    const after = JSON.parse(inNs(NS_PLAT, process.execPath, bin, 'status', '--socket', socket, '--json'));
    expect(sample('xlat64_received_packets_total', 'role="plat"')).toBe(after.counters['rx.packets']);
    expect(sample('xlat64_packets_total', 'direction="6to4"')).toBe(after.counters['tx.packets64']);
    expect(sample('xlat64_packets_total', 'direction="4to6"')).toBe(after.counters['tx.packets46']);
    expect(sample('xlat64_pool_blocks_leased', `address="${poolAddress}"`)).toBe(1);
    expect(sample('xlat64_pool_blocks_leased', 'address="198.51.100.')).toBe(1);
    const use = (after.poolUse as { address: string; leasedBlocks: number }[]).filter(
      (p) => p.leasedBlocks > 0,
    );
    expect(use.map((p) => p.address)).toEqual([poolAddress]);

    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    for (const dev of ['b6', 'b4']) {
      expect(attachedProgram(dev, `/run/netns/${NS_PLAT}`)).toBeNull();
      expect(ip('-n', NS_PLAT, '-d', 'link', 'show', dev)).not.toMatch(/prog\/xdp/);
    }
  });
});
