// A real DNS64 resolver for tests: Debian's unbound with its dns64 module, started on loopback on a
// free port from a temporary directory, answering `ipv4only.arpa` from a local authoritative zone
// (192.0.0.170 and 192.0.0.171, RFC 7050 sec. 2) so no query leaves the machine; stopped by its PID.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Unbound {
  readonly address: string;
  readonly port: number;
  readonly directory: string;
  stop(): Promise<void>;
}

export interface UnboundOptions {
  /** dns64-prefix; omit to run without the dns64 module (a plain resolver). */
  dns64Prefix?: string;
  /** Extra records of the ipv4only.arpa zone (e.g. a real AAAA, to test an answer with no WKA). */
  extraRecords?: string[];
  /** Listen address (default 127.0.0.1); in a namespace, one of its addresses. */
  address?: string;
  /** Run it through this prefix (e.g. ['ip', 'netns', 'exec', ns]). */
  wrapper?: readonly string[];
}

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export async function startUnbound(options: UnboundOptions = {}): Promise<Unbound> {
  const directory = mkdtempSync(join(tmpdir(), 'x64t-unbound-'));
  const address = options.address ?? '127.0.0.1';
  const port = await freeUdpPort();
  const zone = [
    '$ORIGIN ipv4only.arpa.',
    '@ 3600 IN SOA localhost. nobody.invalid. 1 3600 1200 604800 10800',
    '@ 3600 IN NS localhost.',
    '@ 300 IN A 192.0.0.170',
    '@ 300 IN A 192.0.0.171',
    ...(options.extraRecords ?? []),
    '',
  ].join('\n');
  writeFileSync(join(directory, 'ipv4only.arpa.zone'), zone);
  const config = [
    'server:',
    `  interface: ${address}`,
    `  port: ${port}`,
    '  do-daemonize: no',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${directory}"`,
    '  pidfile: ""',
    '  use-syslog: no',
    `  logfile: "${join(directory, 'unbound.log')}"`,
    '  verbosity: 1',
    '  do-tcp: no',
    '  access-control: 0.0.0.0/0 allow',
    '  access-control: ::/0 allow',
    `  module-config: "${options.dns64Prefix ? 'dns64 iterator' : 'iterator'}"`,
    ...(options.dns64Prefix ? [`  dns64-prefix: ${options.dns64Prefix}`] : []),
    'auth-zone:',
    '  name: "ipv4only.arpa"',
    `  zonefile: "${join(directory, 'ipv4only.arpa.zone')}"`,
    '  for-upstream: yes',
    '  for-downstream: no',
    '  fallback-enabled: no',
    '',
  ].join('\n');
  const configFile = join(directory, 'unbound.conf');
  writeFileSync(configFile, config);
  const command = [...(options.wrapper ?? []), '/usr/sbin/unbound', '-d', '-c', configFile];
  const child: ChildProcess = spawn(command[0], command.slice(1), { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(directory, { recursive: true, force: true });
  };
  // Ready when its log says it started (the zone is loaded before the service starts).
  const deadline = Date.now() + 10_000;
  for (;;) {
    let log = '';
    try {
      log = readFileSync(join(directory, 'unbound.log'), 'utf8');
    } catch {}
    if (log.includes('start of service')) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`unbound did not start (exit ${child.exitCode}): ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { address, port, directory, stop };
}
