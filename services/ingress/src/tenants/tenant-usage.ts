// Usage records for billing: every `usage.intervalMs` (hourly by default, on wall-clock boundaries) the
// PLAT appends one JSON line per tenant to `usage.file` — the packets and bytes translated for it both
// ways in the interval, what was refused, and its sessions, subscribers and port blocks (at the end and at
// their peak). Intervals follow each other without gap or overlap; a stop writes the last, shorter one.

import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { configError, type RawConfig, refuseUnknownKeys } from '../../../../libs/dataplane/src/index.js';
import type { TenantConfig } from './tenant-config.js';
import type { TenantUsage } from './tenant-stats.js';

export interface UsageConfig {
  /** JSON lines file the records are appended to. */
  file: string;
  /** Length of one record's interval (records end on multiples of it since the epoch). */
  intervalMs: number;
  /** The node's name in each record (default: the host name). */
  node: string | undefined;
}

export const usageConfigKeys = ['file', 'intervalMs', 'node'] as const;
export const USAGE_INTERVAL_DEFAULT_MS = 3_600_000;
/** Shortest interval: the peaks are sampled every second. */
export const USAGE_INTERVAL_MIN_MS = 1000;

/** Parses `usage` (a path, or { file, intervalMs, node }); refuses it without tenants. */
export function parseUsageConfig(
  raw: unknown,
  tenants: readonly TenantConfig[] | undefined,
): UsageConfig | undefined {
  if (raw === undefined) return undefined;
  const t: RawConfig = typeof raw === 'string' ? { file: raw } : (raw as RawConfig);
  if (typeof t !== 'object' || t === null || Array.isArray(t))
    throw configError('usage', 'expected a file path or { file, intervalMs, node }');
  refuseUnknownKeys(t, usageConfigKeys, 'usage.');
  if (typeof t.file !== 'string' || !isAbsolute(t.file))
    throw configError(
      'usage.file',
      `${JSON.stringify(t.file)} is not an absolute path; give the JSON lines file, e.g. /var/lib/xlat64/usage.jsonl`,
    );
  const intervalMs = t.intervalMs ?? USAGE_INTERVAL_DEFAULT_MS;
  if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs) || intervalMs < USAGE_INTERVAL_MIN_MS)
    throw configError(
      'usage.intervalMs',
      `expected whole milliseconds of at least ${USAGE_INTERVAL_MIN_MS}, got ${JSON.stringify(t.intervalMs)} (default ${USAGE_INTERVAL_DEFAULT_MS}, an hour)`,
    );
  if (t.node !== undefined && (typeof t.node !== 'string' || t.node.length === 0))
    throw configError('usage.node', 'expected a name for this node, e.g. plat-fra1');
  if (tenants === undefined)
    throw configError('usage', 'usage records are per tenant; configure tenants, or remove usage');
  return { file: t.file, intervalMs, node: t.node as string | undefined };
}

/** One tenant's usage over [fromMs, toMs): one JSON line of the usage file. */
export interface TenantUsageRecord {
  type: 'xlat64.tenant.usage';
  version: 1;
  node: string;
  tenant: string;
  from: string;
  to: string;
  fromMs: number;
  toMs: number;
  /** Packets and bytes translated for the tenant in the interval: 6to4 from its subscribers, 4to6 to them. */
  packets64: number;
  packets46: number;
  bytes64: number;
  bytes46: number;
  /** Packets of its subscribers not translated in the interval (limits, quotas, malformed). */
  refused64: number;
  /** At the end of the interval, and the highest seen in it (sampled every second). */
  sessions: number;
  sessionsPeak: number;
  subscribers: number;
  subscribersPeak: number;
  blocks: number;
  blocksPeak: number;
}

type Totals = Pick<TenantUsage, 'translated64' | 'translated46' | 'bytes64' | 'bytes46' | 'refused64'>;
const ZERO: Totals = { translated64: 0, translated46: 0, bytes64: 0, bytes46: 0, refused64: 0 };

/**
 * The records of one interval: each tenant's counters now minus at the interval's start (`before`,
 * by name; a tenant new in the interval starts from zero), its gauges now and their peaks.
 */
export function tenantUsageRecords(
  before: ReadonlyMap<string, Totals>,
  now: readonly TenantUsage[],
  peaks: ReadonlyMap<string, { sessions: number; subscribers: number; blocks: number }>,
  fromMs: number,
  toMs: number,
  node: string,
): TenantUsageRecord[] {
  assert.ok(toMs >= fromMs, 'an interval ends after it starts');
  return now.map((u) => {
    const b = before.get(u.name) ?? ZERO;
    const p = peaks.get(u.name);
    return {
      type: 'xlat64.tenant.usage',
      version: 1,
      node,
      tenant: u.name,
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      fromMs,
      toMs,
      packets64: u.translated64 - b.translated64,
      packets46: u.translated46 - b.translated46,
      bytes64: u.bytes64 - b.bytes64,
      bytes46: u.bytes46 - b.bytes46,
      refused64: u.refused64 - b.refused64,
      sessions: u.sessions,
      sessionsPeak: Math.max(u.sessions, p?.sessions ?? 0),
      subscribers: u.subscribers,
      subscribersPeak: Math.max(u.subscribers, p?.subscribers ?? 0),
      blocks: u.blocks,
      blocksPeak: Math.max(u.blocks, p?.blocks ?? 0),
    };
  });
}

/**
 * Writes the usage file of a running PLAT. `sample` runs every second (peaks; an interval boundary
 * passed writes its records); `stop` writes the last interval, up to the stop.
 */
export class UsageRecorder {
  private fromMs: number;
  private before = new Map<string, Totals>();
  private peaks = new Map<string, { sessions: number; subscribers: number; blocks: number }>();
  /** Records written since the start (status). */
  written = 0;

  constructor(
    private readonly config: UsageConfig,
    private readonly usage: () => TenantUsage[],
    private readonly node: string,
    startMs: number,
  ) {
    mkdirSync(dirname(config.file), { recursive: true });
    this.fromMs = startMs;
  }

  /** The end of the interval running at `nowMs` (a multiple of intervalMs). */
  private boundaryAfter(ms: number): number {
    return (Math.floor(ms / this.config.intervalMs) + 1) * this.config.intervalMs;
  }

  sample(nowMs: number): void {
    const now = this.usage();
    const end = this.boundaryAfter(this.fromMs);
    if (nowMs >= end) {
      // The figures read now are the interval's end: the sampling delay (under a second) moves traffic
      // of that second into this record, never into two.
      this.write(now, end);
      return;
    }
    for (const u of now) {
      const p = this.peaks.get(u.name) ?? { sessions: 0, subscribers: 0, blocks: 0 };
      p.sessions = Math.max(p.sessions, u.sessions);
      p.subscribers = Math.max(p.subscribers, u.subscribers);
      p.blocks = Math.max(p.blocks, u.blocks);
      this.peaks.set(u.name, p);
    }
  }

  stop(nowMs: number): void {
    if (nowMs > this.fromMs) this.write(this.usage(), nowMs);
  }

  private write(now: TenantUsage[], toMs: number): void {
    const records = tenantUsageRecords(this.before, now, this.peaks, this.fromMs, toMs, this.node);
    if (records.length > 0)
      appendFileSync(this.config.file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    this.written += records.length;
    this.before = new Map(now.map((u) => [u.name, u]));
    this.peaks = new Map();
    this.fromMs = toMs;
  }
}
