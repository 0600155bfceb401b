// The queue wake-up against short polling, same run (root): a 2-queue TUN in a fresh namespace, ping
// requests read by one queue's worker are handed through shared memory to the other, which answers
// (test/fixtures/wake-handler.ts). Cases: the receiver woken through its wake eventfd (poll timeout
// 100 ms), and the receiver not woken, noticing the packet at its poll timeout of 1 ms (what the PLAT
// did with several queues before the wake-up). Prints ping round trips and the process's CPU time per
// second while idle (two workers waiting), each with its ratio to the wake-up of the same round. A
// request handed while the receiver's one-packet mailbox is still full is not answered (`received`).
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { forgetNamespaceOwner, recordNamespaceOwner } from '../../../infra/lab/global-teardown.js';
import { openTun, startQueues } from '../src/index.js';

const NS = `x64t-wakeb-${process.pid}`;
const DEV = 'x64t-wb';
const PINGS = 50;
const IDLE_MS = 2000;

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

interface Result {
  rttMinMs: number;
  rttAvgMs: number;
  rttMaxMs: number;
  received: number;
  idleCpuMsPerS: number;
  fromWake: number;
  fromIdle: number;
}

async function run(wake: boolean, pollTimeoutMs: number): Promise<Result> {
  const tun = openTun({ name: DEV, queues: 2, netnsPath: `/run/netns/${NS}` });
  try {
    sh('ip', '-n', NS, 'addr', 'add', '192.0.2.1/24', 'dev', DEV);
    sh('ip', '-n', NS, 'link', 'set', DEV, 'up');
    const shared = new SharedArrayBuffer(16 * 4);
    const counts = new Int32Array(shared);
    const set = await startQueues({
      device: tun,
      handlerModule: new URL('../test/fixtures/wake-handler.ts', import.meta.url),
      handlerOptions: { shared, mail: new SharedArrayBuffer(2 * 2048), wake },
      pollTimeoutMs,
    });
    try {
      await sleep(300);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(IDLE_MS);
      const cpu = process.cpuUsage(cpu0);
      const idleCpuMsPerS = (cpu.user + cpu.system) / 1000 / ((performance.now() - t0) / 1000);
      const out = sh(
        'ip',
        'netns',
        'exec',
        NS,
        'ping',
        '-q',
        '-c',
        String(PINGS),
        '-i',
        '0.01',
        '-W',
        '2',
        '192.0.2.2',
      );
      const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)/.exec(out);
      const received = Number(/(\d+) received/.exec(out)?.[1] ?? 0);
      return {
        rttMinMs: rtt ? Number(rtt[1]) : Number.NaN,
        rttAvgMs: rtt ? Number(rtt[2]) : Number.NaN,
        rttMaxMs: rtt ? Number(rtt[3]) : Number.NaN,
        received,
        idleCpuMsPerS,
        fromWake: Atomics.load(counts, 8),
        fromIdle: Atomics.load(counts, 10),
      };
    } finally {
      await set.stop();
    }
  } finally {
    tun.close();
  }
}

export default async function bench(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stdout.write('skipped: needs root (network namespace + TUN)\n');
    return;
  }
  try {
    recordNamespaceOwner(NS);
    sh('ip', 'netns', 'add', NS);
    sh(
      'ip',
      'netns',
      'exec',
      NS,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    );
    const load = loadavg()[0].toFixed(1);
    const cases = [
      { name: 'wake eventfd, poll 100 ms', wake: true, poll: 100 },
      { name: 'no wake, poll 1 ms', wake: false, poll: 1 },
    ];
    // Two rounds, alternating, each case against the wake-up of its own round.
    const rows: { name: string; r: Result; base: Result }[] = [];
    for (let round = 0; round < 2; round++) {
      const results: Result[] = [];
      for (const c of cases) results.push(await run(c.wake, c.poll));
      for (let i = 0; i < cases.length; i++)
        rows.push({ name: cases[i].name, r: results[i], base: results[0] });
    }
    const lines = [
      `Hand-off to an idle queue worker: ${PINGS} pings at 10 ms, each read by one queue and answered by the other; load average ${load}`,
      '| receiver                  | received | RTT min / avg / max ms | avg RTT vs wake | idle CPU ms/s | vs wake | answered from onWake / onIdle |',
      '|---------------------------|---------:|-----------------------:|----------------:|--------------:|--------:|------------------------------:|',
    ];
    for (const { name, r, base } of rows) {
      lines.push(
        `| ${name.padEnd(25)} | ${String(r.received).padStart(8)} | ` +
          `${`${r.rttMinMs.toFixed(2)} / ${r.rttAvgMs.toFixed(2)} / ${r.rttMaxMs.toFixed(2)}`.padStart(22)} | ` +
          `${`${(r.rttAvgMs / base.rttAvgMs).toFixed(2)}x`.padStart(15)} | ${r.idleCpuMsPerS.toFixed(1).padStart(13)} | ` +
          `${`${(r.idleCpuMsPerS / base.idleCpuMsPerS).toFixed(1)}x`.padStart(7)} | ${`${r.fromWake} / ${r.fromIdle}`.padStart(29)} |`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    try {
      sh('ip', 'netns', 'del', NS);
    } catch {}
    forgetNamespaceOwner(NS);
  }
}
