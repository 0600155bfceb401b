// CLAT footprint next to TAYGA as a CLAT, in the same run on the same machine: start-up time to the
// first translated packet, and resident memory. Each repetition starts, in a fresh network namespace
// of its own with the same TUN name, addresses and PREF64 (order rotating): `xlat64 clat` from the
// checkout (bin/xlat64.mjs), the single-file bundle (`npm run bundle:clat`, built into a temporary
// directory at the start), and TAYGA.
//
// Start-up: from spawn until the first translated packet leaves. A helper in the namespace (started
// before the clock starts) sends an IPv4 datagram to 192.0.2.1 every 2 ms and captures at the far end
// of the veth pair the PREF64 is routed to: the first IPv6 UDP packet to the PREF64 there is the first
// one a translator produced. For TAYGA the kernel setup it leaves to the operator (link up, IPv4 address,
// default route, IPv6 route — four `ip` commands, as infra/lab/lab.sh runs them) is in the time too;
// xlat64 does the same setup itself. The time to the translator's own "ready" line is printed too.
// Wall-clock times depend on the machine's other load; the CPU time the process used until then
// (utime + stime, /proc/PID/stat) much less. Memory: VmRSS of the whole process (all threads) 1 s
// after the first packet, and its peak (VmHWM). Root only; runs xlat64 from dist/ (`npm run build`).
// Discovery is on as by default except DNS64 (the namespace has no resolver): the RA socket is open.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/xlat64.mjs', import.meta.url));
const BUNDLER = fileURLToPath(new URL('../../../infra/bundle/bundle-clat.mjs', import.meta.url));
const FIRST_PACKET = fileURLToPath(new URL('./first-packet.py', import.meta.url));
const REPS = Number(process.env.CLAT_BENCH_REPS ?? 5);
const PREFIX = '2001:db8:64::/96';
const CONTENDERS = ['xlat64', 'bundle', 'tayga'] as const;
type Contender = (typeof CONTENDERS)[number];
const LABEL: Record<Contender, string> = {
  xlat64: 'xlat64 clat',
  bundle: 'xlat64-clat.mjs',
  tayga: 'TAYGA',
};

interface Sample {
  readyMs: number;
  firstPacketMs: number;
  /** CPU time the translator process used until its first packet (user + system, all threads). */
  cpuMs: number;
  rssKiB: number;
  hwmKiB: number;
}

function memory(pid: number): { rssKiB: number; hwmKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** utime + stime of a process from /proc/PID/stat, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no ${pattern} within 30 s: ${seen}`)), 30_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        resolve(performance.now());
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited ${code} before ${pattern}: ${seen}`));
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function measure(which: Contender, rep: number, dir: string, bundle: string): Promise<Sample> {
  const ns = `x64t-bclat-${rep}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  let child: ChildProcess | null = null;
  let watcher: ChildProcess | null = null;
  try {
    const ip = (...args: string[]) => execFileSync('ip', ['-n', ns, ...args]);
    ip('link', 'set', 'lo', 'up');
    // Where translated packets go: a veth pair without link-local addresses (so it sends nothing of
    // its own) and a permanent neighbour for the PREF64's next hop (no neighbour solicitation either).
    ip('link', 'add', 'out0', 'type', 'veth', 'peer', 'name', 'out1');
    for (const dev of ['out0', 'out1']) {
      ip('link', 'set', dev, 'addrgenmode', 'none');
      ip('link', 'set', dev, 'up');
    }
    ip('-6', 'neigh', 'add', 'fe80::1', 'lladdr', '02:00:5e:00:53:01', 'dev', 'out0', 'nud', 'permanent');
    ip('-6', 'route', 'add', PREFIX, 'via', 'fe80::1', 'dev', 'out0');
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
    watcher = spawn(
      'ip',
      ['netns', 'exec', ns, 'python3', FIRST_PACKET, '192.0.2.1', 'out1', PREFIX.split('/')[0]],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await waitForLine(watcher, /ready/, 'first-packet helper');
    const translated = waitForLine(watcher, /translated/, 'first-packet helper');
    const t0 = performance.now();
    let readyAt: number;
    if (which !== 'tayga') {
      const args = [
        ...['clat', '--device', 'clat46', '--ipv6-address', '2001:db8:1:464::1', '--prefix', PREFIX],
        ...['--allow-non-global', '--ipv6-mtu', '1500', '--no-dns64-discovery'],
        ...['--status-socket', join(dir, `clat-${rep}.sock`)],
      ];
      const command = which === 'xlat64' ? [BIN, ...args] : [bundle, ...args.slice(1)];
      child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...command], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      readyAt = await waitForLine(child, / up, /, which);
    } else {
      const data = join(dir, `tayga-${rep}`);
      writeFileSync(
        join(dir, `tayga-${rep}.conf`),
        [
          'tun-device clat46',
          'ipv4-addr 192.0.0.2',
          'ipv6-addr 2001:db8:1:464::2',
          `prefix ${PREFIX}`,
          'map 192.0.0.1 2001:db8:1:464::1',
          `data-dir ${data}`,
          '',
        ].join('\n'),
      );
      // stdbuf: TAYGA's debug lines are otherwise block-buffered into the pipe until it exits.
      child = spawn(
        'ip',
        ['netns', 'exec', ns, 'stdbuf', '-oL', '-eL', 'tayga', '-d', '-c', join(dir, `tayga-${rep}.conf`)],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      await waitForLine(child, /NAT64 prefix/, 'tayga');
      ip('link', 'set', 'clat46', 'up');
      ip('addr', 'add', '192.0.0.1/32', 'dev', 'clat46');
      ip('route', 'add', 'default', 'dev', 'clat46', 'src', '192.0.0.1', 'mtu', '1480');
      ip('-6', 'route', 'add', '2001:db8:1:464::1/128', 'dev', 'clat46');
      readyAt = performance.now();
    }
    const firstAt = await translated;
    // `ip netns exec` (and stdbuf) exec the command in place: the child's PID is the translator's own.
    const used = cpuMs(child.pid!);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { rssKiB, hwmKiB } = memory(child.pid!);
    return { readyMs: readyAt - t0, firstPacketMs: firstAt - t0, cpuMs: used, rssKiB, hwmKiB };
  } finally {
    if (watcher !== null) await stop(watcher);
    if (child !== null) await stop(child);
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
};
const fmt = (s: { min: number; median: number; max: number }, digits = 0) =>
  `${s.min.toFixed(digits)} – ${s.median.toFixed(digits)} – ${s.max.toFixed(digits)}`;

export default async function footprint(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: the CLAT footprint bench needs root (namespaces, TUN)\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'x64t-bclat-'));
  const samples: Record<Contender, Sample[]> = { xlat64: [], bundle: [], tayga: [] };
  try {
    // The bundle as an edge device gets it: one directory holding the .mjs and the two addons.
    execFileSync(process.execPath, [BUNDLER, join(dir, 'bundle')], { stdio: 'ignore' });
    const bundle = join(dir, 'bundle', 'xlat64-clat.mjs');
    for (let rep = 0; rep < REPS; rep++) {
      const order = CONTENDERS.map((_, i) => CONTENDERS[(i + rep) % CONTENDERS.length]);
      for (const which of order) samples[which].push(await measure(which, rep, dir, bundle));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [
    ['start-up ms to the first translated packet', (s: Sample) => s.firstPacketMs, 0, 0],
    ['start-up ms to "ready" (xlat64: up; TAYGA: + ip setup)', (s: Sample) => s.readyMs, 0, 0],
    // TAYGA often uses less than one 10 ms tick: its figure counts as one tick in the ratio.
    ['CPU ms used until the first packet (10 ms ticks)', (s: Sample) => s.cpuMs, 0, 10],
    ['RSS MiB 1 s after the first packet', (s: Sample) => s.rssKiB / 1024, 1, 0],
    ['peak RSS MiB (VmHWM)', (s: Sample) => s.hwmKiB / 1024, 1, 0],
  ] as const;
  const ratio = (which: Contender, pick: (s: Sample) => number, floor: number) =>
    fmt(stats(samples[which].map((s, i) => pick(s) / Math.max(pick(samples.tayga[i]), floor))), 1);
  process.stdout.write(
    `CLAT footprint, ${REPS} repetitions, order rotating (min – median – max; ratios per repetition)\n`,
  );
  process.stdout.write(
    `${'metric'.padEnd(56)} ${CONTENDERS.map((c) => LABEL[c].padEnd(22)).join(' ')} ` +
      `${'xlat64/TAYGA'.padEnd(18)} bundle/TAYGA\n`,
  );
  for (const [name, pick, digits, floor] of rows) {
    const cells = CONTENDERS.map((c) => fmt(stats(samples[c].map(pick)), digits).padEnd(22)).join(' ');
    process.stdout.write(
      `${name.padEnd(56)} ${cells} ${ratio('xlat64', pick, floor).padEnd(18)} ${ratio('bundle', pick, floor)}\n`,
    );
  }
}
