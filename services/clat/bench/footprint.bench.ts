// CLAT footprint next to TAYGA as a CLAT, in the same run on the same machine: start-up time and
// resident memory. Each repetition starts `xlat64 clat` and TAYGA (order alternating) in a fresh
// network namespace of its own, with the same TUN name, addresses and PREF64.
//
// Start-up: from spawn until the CLAT can translate. xlat64: until it logs "up" (TUN open, kernel
// setup done, queue worker running, status socket listening). TAYGA: until it prints its NAT64 prefix
// (TUN open, loop entered), plus the kernel setup TAYGA leaves to the operator (link up, IPv4
// address, default route, IPv6 route — four `ip` commands, as infra/lab/lab.sh runs them).
// The wall-clock time depends on the machine's other load; the CPU time the process used until
// then (utime + stime, /proc/PID/stat) much less. Memory: VmRSS of the whole process (all threads) 1 s after start-up, and its peak (VmHWM).
// Root only (namespaces, TUN); runs xlat64 from dist/ (`npm run build` first). Discovery is on as by
// default except DNS64 (the namespace has no resolver); the RA listener's raw socket is open.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../../bin/xlat64.mjs', import.meta.url));
const REPS = Number(process.env.CLAT_BENCH_REPS ?? 5);

interface Sample {
  startupMs: number;
  /** CPU time the translator process used until it was ready (user + system, all threads). */
  startupCpuMs: number;
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

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within 20 s: ${seen}`)), 20_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code} before ready: ${seen}`));
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

async function measure(which: 'xlat64' | 'tayga', rep: number, dir: string): Promise<Sample> {
  const ns = `x64t-bclat-${rep}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  let child: ChildProcess | null = null;
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const t0 = performance.now();
    if (which === 'xlat64') {
      child = spawn(
        'ip',
        [
          ...['netns', 'exec', ns, process.execPath, BIN, 'clat', '--device', 'clat46'],
          ...['--ipv6-address', '2001:db8:1:464::1', '--prefix', '64:ff9b::/96', '--allow-non-global'],
          ...['--ipv6-mtu', '1500', '--no-dns64-discovery', '--status-socket', join(dir, `clat-${rep}.sock`)],
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      await waitForLine(child, / up, /);
    } else {
      const data = join(dir, `tayga-${rep}`);
      writeFileSync(
        join(dir, `tayga-${rep}.conf`),
        [
          'tun-device clat46',
          'ipv4-addr 192.0.0.2',
          'ipv6-addr 2001:db8:1:464::2',
          'prefix 64:ff9b::/96',
          'map 192.0.0.1 2001:db8:1:464::1',
          `data-dir ${data}`,
          '',
        ].join('\n'),
      );
      // stdbuf: TAYGA's debug lines are otherwise block-buffered into the pipe until it exits.
      child = spawn(
        'ip',
        ['netns', 'exec', ns, 'stdbuf', '-oL', '-eL', 'tayga', '-d', '-c', join(dir, `tayga-${rep}.conf`)],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      await waitForLine(child, /NAT64 prefix/);
      const ip = (...args: string[]) => execFileSync('ip', ['-n', ns, ...args]);
      ip('link', 'set', 'clat46', 'up');
      ip('addr', 'add', '192.0.0.1/32', 'dev', 'clat46');
      ip('route', 'add', 'default', 'dev', 'clat46', 'src', '192.0.0.1', 'mtu', '1480');
      ip('-6', 'route', 'add', '2001:db8:1:464::1/128', 'dev', 'clat46');
    }
    const startupMs = performance.now() - t0;
    // `ip netns exec` (and stdbuf) exec the command in place: the child's PID is the translator's own.
    const startupCpuMs = cpuMs(child.pid!);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { rssKiB, hwmKiB } = memory(child.pid!);
    return { startupMs, startupCpuMs, rssKiB, hwmKiB };
  } finally {
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
  const samples: Record<'xlat64' | 'tayga', Sample[]> = { xlat64: [], tayga: [] };
  const ratios: { startup: number[]; cpu: number[]; rss: number[] } = { startup: [], cpu: [], rss: [] };
  try {
    for (let rep = 0; rep < REPS; rep++) {
      const order: ('xlat64' | 'tayga')[] = rep % 2 === 0 ? ['xlat64', 'tayga'] : ['tayga', 'xlat64'];
      const got: Partial<Record<'xlat64' | 'tayga', Sample>> = {};
      for (const which of order) got[which] = await measure(which, rep, dir);
      samples.xlat64.push(got.xlat64!);
      samples.tayga.push(got.tayga!);
      ratios.startup.push(got.xlat64!.startupMs / got.tayga!.startupMs);
      ratios.cpu.push(got.xlat64!.startupCpuMs / Math.max(10, got.tayga!.startupCpuMs));
      ratios.rss.push(got.xlat64!.rssKiB / got.tayga!.rssKiB);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rows = [
    ['start-up ms (to translating, kernel setup included)', (s: Sample) => s.startupMs, 0, ratios.startup],
    ['CPU ms used until then (10 ms ticks)', (s: Sample) => s.startupCpuMs, 0, ratios.cpu],
    ['RSS MiB 1 s after start-up', (s: Sample) => s.rssKiB / 1024, 1, ratios.rss],
    ['peak RSS MiB (VmHWM)', (s: Sample) => s.hwmKiB / 1024, 1, null],
  ] as const;
  process.stdout.write(`CLAT footprint, ${REPS} repetitions alternating (min – median – max)\n`);
  process.stdout.write(
    `${'metric'.padEnd(52)} ${'xlat64 clat'.padEnd(22)} ${'TAYGA'.padEnd(22)} xlat64/TAYGA\n`,
  );
  for (const [name, pick, digits, ratio] of rows) {
    const x = fmt(stats(samples.xlat64.map(pick)), digits);
    const t = fmt(stats(samples.tayga.map(pick)), digits);
    process.stdout.write(
      `${name.padEnd(52)} ${x.padEnd(22)} ${t.padEnd(22)} ${ratio ? fmt(stats(ratio), 1) : ''}\n`,
    );
  }
}
