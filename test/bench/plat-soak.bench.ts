// The wall-clock soak of issue 9, as a user runs the PLAT: `xlat64 plat` (dist/, embedded state in
// stateDir, TUN) in the namespace lab (infra/lab/lab.sh, PLAT=xlat64), 20,000 active UDP flows (40
// subscribers 2001:db8:0:XX00::1 × 500 source ports, one datagram per flow per second: 20,000 pps from
// infra/lab/paced-flows.py) for X64_SOAK_SECONDS (default 600) after X64_SOAK_WARMUP_SECONDS (default 120).
// Every 10 s it reads the PLAT's RSS (/proc/PID/status), the size of its stateDir and its counters
// (`xlat64 status`), and prints the growth per second after warm-up (least squares).
// Baseline in the same run: a second lab with the same PLAT and no traffic, sampled at the same times,
// so the runtime's own drift (V8 heap sizing, JIT) is told apart from growth that follows traffic.
// X64_SOAK_TAIL_BYTES sets the PLATs' snapshotTailBytes. Needs root and `npm run build`;
// `npm run bench -- plat-soak` runs it alone.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createLab, type Lab } from '../../infra/lab/lab.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const XLAT64 = join(REPO, 'bin/xlat64.mjs');
const GENERATOR = join(REPO, 'infra/lab/paced-flows.py');
const SUBSCRIBERS = 40;
const PORTS = 500;
const RATE_PPS = SUBSCRIBERS * PORTS; // one datagram per flow per second
const SAMPLE_MS = 10_000;

interface Sample {
  t: number; // seconds since the generator started
  rssKb: number;
  stateBytes: number;
  sessions: number;
  translated: number;
  drops: number;
  /** Frames the generator's interface sent, and packets the kernel dropped at the PLAT's TUN. */
  offered: number;
  tunDropped: number;
}

function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) continue; // compaction removed it between the listing and the stat
    total += st.isDirectory() ? dirBytes(path) : st.size;
  }
  return total;
}

function rssKb(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (match === null) throw new Error(`no VmRSS for PID ${pid}`);
  return Number(match[1]);
}

function status(runDir: string): Record<string, number> {
  const out = spawnSync(
    process.execPath,
    [XLAT64, 'status', '--socket', `${runDir}/xlat64-plat.sock`, '--json'],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (out.status !== 0) throw new Error(`xlat64 status (${runDir}) failed: ${out.stderr}`);
  return (JSON.parse(out.stdout) as { counters: Record<string, number> }).counters;
}

function linkStats(ns: string, dev: string): { tx: number; txDropped: number } {
  const [link] = JSON.parse(
    execFileSync('ip', ['-j', '-s', '-n', ns, 'link', 'show', dev], { encoding: 'utf8' }),
  );
  return { tx: link.stats64.tx.packets, txDropped: link.stats64.tx.dropped };
}

function sample(lab: Lab, pid: number, t: number): Sample {
  const runDir = lab.options.runDir;
  const counters = status(runDir);
  let drops = 0;
  for (const [name, value] of Object.entries(counters)) if (name.startsWith('drop.')) drops += value;
  return {
    t,
    rssKb: rssKb(pid),
    stateBytes: dirBytes(`${runDir}/xlat64-state`),
    sessions: counters['nat.sessions'] ?? 0,
    translated: (counters['tx.packets64'] ?? 0) + (counters['tx.packets46'] ?? 0),
    drops,
    offered: linkStats(lab.namespaces.client, 'c0').tx,
    tunDropped: linkStats(lab.namespaces.plat, 'plat64').txDropped,
  };
}

/** Least-squares slope of y over t (per second). */
function slope(points: readonly { t: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return num / den;
}

function platPid(lab: Lab): number {
  const pid = Number(readFileSync(`${lab.options.runDir}/xlat64-plat.pid`, 'utf8').trim());
  if (!(pid > 0) || !existsSync(`/proc/${pid}`))
    throw new Error(`the ${lab.options.prefix} PLAT is not running`);
  return pid;
}

function summary(name: string, samples: readonly Sample[], warmup: number): string[] {
  const after = samples.filter((s) => s.t >= warmup);
  const first = after[0];
  const last = after[after.length - 1];
  const rss = slope(after.map((s) => ({ t: s.t, y: s.rssKb })));
  const disk = slope(after.map((s) => ({ t: s.t, y: s.stateBytes / 1024 })));
  const rssMax = Math.max(...after.map((s) => s.rssKb));
  const diskMax = Math.max(...after.map((s) => s.stateBytes));
  const pps = (last.translated - first.translated) / (last.t - first.t);
  const offered = (last.offered - first.offered) / (last.t - first.t);
  return [
    `| ${name} | ${(first.rssKb / 1024).toFixed(1)} → ${(last.rssKb / 1024).toFixed(1)} (max ${(rssMax / 1024).toFixed(1)}) | ` +
      `${rss.toFixed(1)} | ${(first.stateBytes / 1e6).toFixed(2)} → ${(last.stateBytes / 1e6).toFixed(2)} (max ${(diskMax / 1e6).toFixed(2)}) | ` +
      `${disk.toFixed(2)} | ${last.sessions} | ${Math.round(offered)} | ${Math.round(pps)} | ${last.drops - first.drops} | ` +
      `${last.tunDropped - first.tunDropped} |`,
  ];
}

export default async function platSoak(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: the lab soak needs root (network namespaces, TUN)\n');
    return;
  }
  if (!existsSync(join(REPO, 'dist/services/cli/src/main.js'))) throw new Error('run npm run build first');
  const seconds = Number(process.env.X64_SOAK_SECONDS ?? 600);
  const warmup = Number(process.env.X64_SOAK_WARMUP_SECONDS ?? 120);
  const work = mkdtempSync(join(tmpdir(), 'x64-soak-'));
  const tag = process.pid % 100_000;
  // X64_SOAK_TAIL_BYTES: the PLATs' snapshotTailBytes (default 8 MiB, which this traffic's refreshes
  // take hours to reach; a smaller one shows the compaction cycles within the run).
  const tail = process.env.X64_SOAK_TAIL_BYTES;
  const lab = (name: string) =>
    createLab({
      prefix: `x64s-${name[0]}${tag}`,
      runDir: join(work, name),
      plat: 'xlat64',
      clat: 'none',
      xlat64PlatConfigExtra: tail === undefined ? undefined : `snapshotTailBytes: ${tail}`,
    });
  const loaded = lab('loaded');
  const idle = lab('idle');
  const children: ReturnType<typeof spawn>[] = [];
  try {
    loaded.up();
    idle.up();
    for (const lab of [loaded, idle]) {
      const deadline = Date.now() + 60_000;
      while (
        spawnSync(process.execPath, [XLAT64, 'status', '--socket', `${lab.options.runDir}/xlat64-plat.sock`])
          .status !== 0
      ) {
        if (Date.now() > deadline)
          throw new Error(`${lab.options.prefix}: the PLAT's status socket never answered`);
        await sleep(500);
      }
    }
    // The IPv4 server's socket never reads: datagrams are dropped there, no ICMP errors come back.
    children.push(
      spawn(
        'ip',
        [
          'netns',
          'exec',
          loaded.namespaces.server,
          'python3',
          '-c',
          "import socket,time\ns=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('198.51.100.2', 9)); time.sleep(86400)",
        ],
        { stdio: 'ignore', detached: true },
      ),
    );
    const p0 = JSON.parse(
      execFileSync('ip', ['-j', '-n', loaded.namespaces.plat, 'link', 'show', 'p0'], { encoding: 'utf8' }),
    )[0].address as string;
    const generator = spawn(
      'ip',
      [
        'netns',
        'exec',
        loaded.namespaces.client,
        'python3',
        GENERATOR,
        'c0',
        p0,
        String(warmup + seconds + 15),
        String(RATE_PPS),
        '64:ff9b::c633:6402',
        '2001:db8:0',
        '1',
        String(SUBSCRIBERS),
        String(PORTS),
        '9',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
    );
    children.push(generator);
    const start = performance.now();
    const pids = { loaded: platPid(loaded), idle: platPid(idle) };
    const series: Record<'loaded' | 'idle', Sample[]> = { loaded: [], idle: [] };
    process.stdout.write(
      `soak: ${SUBSCRIBERS} subscribers × ${PORTS} ports at ${RATE_PPS} pps for ${warmup} s warm-up + ${seconds} s; ` +
        `snapshotTailBytes ${tail ?? 'default (8 MiB)'}; ` +
        `a sample every ${SAMPLE_MS / 1000} s\n\n| t (s) | RSS MB | stateDir MB | sessions | translated/s | drops | idle RSS MB | idle stateDir MB |\n|---|---|---|---|---|---|---|---|\n`,
    );
    for (let n = 1; ; n++) {
      const wait = start + n * SAMPLE_MS - performance.now();
      if (wait > 0) await sleep(wait);
      const t = Math.round((performance.now() - start) / 1000);
      if (generator.exitCode !== null)
        throw new Error(`the generator stopped early (exit ${generator.exitCode})`);
      const l = sample(loaded, pids.loaded, t);
      const i = sample(idle, pids.idle, t);
      const previous = series.loaded[series.loaded.length - 1];
      series.loaded.push(l);
      series.idle.push(i);
      if (n % 6 === 0 || t >= warmup + seconds) {
        const pps = previous ? (l.translated - previous.translated) / (l.t - previous.t) : 0;
        process.stdout.write(
          `| ${t} | ${(l.rssKb / 1024).toFixed(1)} | ${(l.stateBytes / 1e6).toFixed(2)} | ${l.sessions} | ${Math.round(pps)} | ${l.drops} | ` +
            `${(i.rssKb / 1024).toFixed(1)} | ${(i.stateBytes / 1e6).toFixed(2)} |\n`,
        );
      }
      if (t >= warmup + seconds) break;
    }
    process.stdout.write(
      `\nafter warm-up (t ≥ ${warmup} s), least-squares growth:\n\n` +
        '| PLAT | RSS MB | RSS KB/s | stateDir MB | stateDir KB/s | sessions | offered/s | translated/s | drops | TUN drops |\n' +
        '|---|---|---|---|---|---|---|---|---|---|\n',
    );
    for (const line of summary('20,000 UDP flows', series.loaded, warmup)) process.stdout.write(`${line}\n`);
    for (const line of summary('idle (baseline)', series.idle, warmup)) process.stdout.write(`${line}\n`);
    process.stdout.write('issue 9 before the bounded log: RSS +3,600 KB/s, stateDir +3,300 KB/s\n');
  } finally {
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }
    }
    for (const lab of [loaded, idle]) {
      try {
        lab.down();
      } catch (error) {
        process.stderr.write(`${lab.options.prefix} down: ${(error as Error).message}\n`);
      }
    }
    rmSync(work, { recursive: true, force: true });
  }
}
