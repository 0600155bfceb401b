// `xlat64 plat --io xdp --interface IF` end to end: the command attaches libs/xdp to a veth (native
// mode, said at start and in `xlat64 status`), an IPv6-only client's UDP reaches an IPv4 server through
// the PREF64 and the reply comes back, and on SIGTERM the program and sockets are gone from the
// interface. Namespaces x64t-*-<pid>, removed in afterAll.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../infra/lab/global-teardown.js';
import { attachedProgram } from '../../libs/xdp/src/index.js';

const bin = fileURLToPath(new URL('../../bin/xlat64.mjs', import.meta.url));
const NS_NET = `x64t-exn-${process.pid}`;
const NS_PLAT = `x64t-exp-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'x64t-plat-xdp-'));
const children: ChildProcess[] = [];

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const inNs = (ns: string, ...args: string[]) =>
  execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8' });

beforeAll(() => {
  for (const ns of [NS_NET, NS_PLAT]) {
    recordNamespaceOwner(ns);
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip(
    '-n',
    NS_NET,
    'link',
    'add',
    'a0',
    'numtxqueues',
    '1',
    'numrxqueues',
    '1',
    'type',
    'veth',
    'peer',
    'name',
    'b0',
    'netns',
    NS_PLAT,
    'numtxqueues',
    '1',
    'numrxqueues',
    '1',
  );
  ip('-n', NS_NET, 'addr', 'add', '192.0.2.1/24', 'dev', 'a0');
  ip('-n', NS_NET, 'addr', 'add', '2001:db8::1/64', 'dev', 'a0', 'nodad');
  ip('-n', NS_PLAT, 'addr', 'add', '192.0.2.2/24', 'dev', 'b0');
  ip('-n', NS_PLAT, 'addr', 'add', '2001:db8::2/64', 'dev', 'b0', 'nodad');
  ip('-n', NS_NET, 'link', 'set', 'a0', 'up');
  ip('-n', NS_PLAT, 'link', 'set', 'b0', 'up');
  ip('-n', NS_NET, 'route', 'add', '64:ff9b::/96', 'via', '2001:db8::2');
  ip('-n', NS_NET, 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.2');
  inNs(NS_NET, 'ethtool', '-K', 'a0', 'tx', 'off'); // complete checksums on the frames AF_XDP sees
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const ns of [NS_NET, NS_PLAT]) {
    try {
      ip('netns', 'del', ns);
    } catch {}
    forgetNamespaceOwner(ns);
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('xlat64 plat --io xdp', () => {
  it('translates through AF_XDP on the interface, reports native mode, and detaches on SIGTERM', async () => {
    const socket = join(dir, 'plat.sock');
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        NS_PLAT,
        process.execPath,
        bin,
        'plat',
        '--io',
        'xdp',
        '--interface',
        'b0',
        '--pool4',
        '198.51.100.0/24',
        '--allow-non-global',
        '--state-dir',
        dir,
        '--status-socket',
        socket,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
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
    expect(log).toMatch(/plat: b0 up, AF_XDP native mode/);
    expect(attachedProgram('b0', `/run/netns/${NS_PLAT}`)).toMatchObject({
      name: 'xlat64_xdp',
      mode: 'native',
    });

    const out = inNs(
      NS_NET,
      'python3',
      '-c',
      [
        'import socket',
        "srv=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); srv.bind(('192.0.2.1', 9999)); srv.settimeout(0.2)",
        "cli=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); cli.bind(('2001:db8::1', 0)); cli.settimeout(0.2)",
        'for _ in range(50):',
        "  cli.sendto(b'via-xdp', ('64:ff9b::c000:201', 9999))",
        '  try:',
        '    d,src=srv.recvfrom(100)',
        '  except socket.timeout:',
        '    continue',
        "  srv.sendto(b'reply:'+d, src)",
        '  try:',
        '    r,frm=cli.recvfrom(100); print(src[0], r.decode(), frm[0]); break',
        '  except socket.timeout:',
        '    pass',
      ].join('\n'),
    ).trim();
    expect(out).toMatch(/^198\.51\.100\.\d+ reply:via-xdp 64:ff9b::c000:201$/);

    const status = JSON.parse(inNs(NS_PLAT, process.execPath, bin, 'status', '--socket', socket, '--json'));
    expect(status).toMatchObject({ role: 'plat', io: 'xdp', interface: 'b0', xdpMode: 'native' });
    expect(status.counters['rx.packets']).toBeGreaterThanOrEqual(2);
    expect(status.xdpProgram.redirected).toBeGreaterThanOrEqual(2);

    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', (c) => resolve(c));
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    expect(attachedProgram('b0', `/run/netns/${NS_PLAT}`)).toBeNull();
    expect(ip('-n', NS_PLAT, '-d', 'link', 'show', 'b0')).not.toMatch(/prog\/xdp/);
  });
});
