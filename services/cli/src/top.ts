// `xlat64 top`: a live terminal view of one running role, refreshed in place from its status
// socket: per-worker packet rates, translated traffic by direction, the top drop reasons and the
// NAT state gauges. `--once` takes two samples one interval apart, prints one frame and exits.
import { parseArgs } from 'node:util';
import { findStatusSockets, readStatus, type StatusDocument } from '../../../libs/dataplane/src/index.js';
import type { Command } from './command.js';
import { CliUsageError } from './errors.js';

const help = `usage: xlat64 top [--socket PATH] [--interval SECONDS] [--once]

A live view of a running xlat64 role from its status socket: per-worker rates, drops by reason
(top 10), NAT state. Refreshes every interval (default 1 s) until Ctrl-C; --once prints one frame.
`;

export const topCommand: Command = {
  name: 'top',
  summary: 'live terminal view of a running role: per-worker rates, top drop reasons, NAT state',
  async run(argv) {
    let values: { socket?: string; interval?: string; once?: boolean; help?: boolean };
    try {
      ({ values } = parseArgs({
        args: [...argv],
        options: {
          socket: { type: 'string' },
          interval: { type: 'string' },
          once: { type: 'boolean' },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (error) {
      throw new CliUsageError(`${(error as Error).message}; see 'xlat64 top --help'`);
    }
    if (values.help) {
      process.stdout.write(help);
      return 0;
    }
    const interval = values.interval === undefined ? 1 : Number(values.interval);
    if (!Number.isFinite(interval) || interval < 0.1 || interval > 3600)
      throw new CliUsageError(`--interval: expected seconds between 0.1 and 3600, got '${values.interval}'`);
    const socket = values.socket ?? findStatusSockets()[0];
    if (socket === undefined) {
      process.stderr.write('xlat64 top: no running role found (pass --socket PATH)\n');
      return 1;
    }
    let previous = await readStatus(socket);
    let previousAt = Date.now();
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, interval * 1000));
      const current = await readStatus(socket);
      const now = Date.now();
      const frame = formatTop(previous, current, (now - previousAt) / 1000);
      if (values.once) {
        process.stdout.write(frame);
        return 0;
      }
      process.stdout.write(`\x1b[H\x1b[2J${frame}`);
      previous = current;
      previousAt = now;
    }
  },
};

type Counters = Record<string, number>;

function workersOf(doc: StatusDocument): Counters[] {
  return Array.isArray(doc.perQueue) ? (doc.perQueue as Counters[]) : [doc.counters];
}

function rate(now: Counters, before: Counters | undefined, name: string, seconds: number): number {
  return Math.max(0, ((now[name] ?? 0) - (before?.[name] ?? 0)) / seconds);
}

/** One screen of `xlat64 top` from two status documents taken `seconds` apart. */
export function formatTop(before: StatusDocument, now: StatusDocument, seconds: number): string {
  const restarted = before.startedAt !== now.startedAt;
  const base = restarted ? { ...now, counters: {}, perQueue: [] } : before;
  const c = now.counters;
  const lines = [
    `xlat64 top — ${now.role} on ${String(now.device ?? '?')} (pid ${now.pid}, started ${now.startedAt})${restarted ? '  [restarted]' : ''}`,
    '',
    'worker       rx pps     6to4 pps     4to6 pps    drops/s',
  ];
  const beforeWorkers = workersOf(base);
  workersOf(now).forEach((worker, i) => {
    const drops = (w: Counters | undefined) =>
      Object.entries(w ?? {})
        .filter(([k]) => k.startsWith('drop.'))
        .reduce((sum, [, v]) => sum + v, 0);
    const dropRate = Math.max(0, (drops(worker) - drops(beforeWorkers[i])) / seconds);
    lines.push(
      `${String(i).padEnd(6)} ${fmt(rate(worker, beforeWorkers[i], 'rx.packets', seconds))} ${fmt(rate(worker, beforeWorkers[i], 'tx.packets64', seconds))} ${fmt(rate(worker, beforeWorkers[i], 'tx.packets46', seconds))} ${fmt(dropRate)}`,
    );
  });
  lines.push(
    '',
    `totals   rx ${c['rx.packets'] ?? 0} pkts   6to4 ${c['tx.packets64'] ?? 0} pkts ${c['tx.bytes64'] ?? 0} B   4to6 ${c['tx.packets46'] ?? 0} pkts ${c['tx.bytes46'] ?? 0} B   ICMP replies ${c['tx.replies'] ?? 0}`,
  );
  const state = Object.entries(c).filter(([k]) => k.startsWith('nat.') || k.startsWith('events.'));
  if (state.length > 0)
    lines.push(`state    ${state.map(([k, v]) => `${k.slice(k.indexOf('.') + 1)} ${v}`).join('   ')}`);
  const drops = Object.entries(c)
    .filter(([k, v]) => k.startsWith('drop.') && v > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10);
  lines.push('', 'top drop reasons          total      per s');
  if (drops.length === 0) lines.push('  (none)');
  for (const [name, total] of drops)
    lines.push(
      `  ${name.slice(5).padEnd(20)} ${String(total).padStart(9)} ${fmt(rate(c, base.counters, name, seconds))}`,
    );
  return `${lines.join('\n')}\n`;
}

function fmt(value: number): string {
  return (value >= 100 ? value.toFixed(0) : value.toFixed(1)).padStart(12);
}
