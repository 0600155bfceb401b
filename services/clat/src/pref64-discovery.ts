// The CLAT's control plane for its PREF64: learns prefixes from router advertisements (RFC 8781),
// else from DNS64 (RFC 7050, asked while no RA carries the option), else configuration; acts on
// lifetimes and TTLs; probes each prefix through its PLAT and prefers the first that answers; and
// publishes the choice to the queue workers through the PrefixSlot, keeping the previous prefix
// draining for `drainMs` so replies on flows that started before the change still get through.
import assert from 'node:assert/strict';
import { parseIpv6Prefix, parseRfc6052Prefix } from '../../../libs/xlat/src/index.js';
import { PlatProbe, type ProbeStats } from './plat-probe.js';
import { type Pref64Candidate, Pref64Table } from './pref64-table.js';
import type { PrefixSlot, SlotPrefix } from './prefix-slot.js';
import { type RaListener, startRaListener } from './ra-listener.js';
import { type DnsServer, discoverDns64, dnsProblemReasons } from './rfc7050.js';
import { type ParsedRouterAdvertisement, raMalformedReasons } from './rfc8781.js';

/** How soon to ask DNS64 again after a failure. */
const DNS_RETRY_MS = 10_000;
/** A DNS64 answer is trusted at least this long, however small its TTL (a TTL of 0 would flap). */
const DNS_TTL_FLOOR_SECONDS = 10;
const DNS_TIMEOUT_MS = 2000;

export interface Pref64DiscoveryOptions {
  /** Configured PREF64s in order of preference (the last resort). */
  configured: readonly string[];
  raDiscovery: boolean;
  /** The uplink RAs arrive on (solicited at start, watched); undefined: every interface. */
  raDevice?: string;
  /** The CLAT's TUN: never solicited on. */
  tunDevice?: string;
  /** Router solicitation interval (RFC 4861's 4 s by default; tests shorten it). */
  solicitationIntervalMs?: number;
  dns64Discovery: boolean;
  dnsServers: readonly DnsServer[];
  /** PLAT probe; null to use the most preferred prefix without probing. */
  probe: { ipv4Address: string; intervalMs: number; lossThreshold: number } | null;
  drainMs: number;
  slot: PrefixSlot;
  log: (line: string) => void;
  /** Wall clock for lifetimes (ms since the epoch). */
  now?: () => number;
}

export const discoveryCounterNames = [
  'ra.received',
  'ra.pref64',
  'ra.withdrawn',
  ...raMalformedReasons.map((r) => `ra.malformed.${r}`),
  'ra.malformed.source',
  'ra.malformed.hoplimit',
  'rs.sent',
  'rs.failed',
  'ra.socket.errors',
  'ra.socket.reopens',
  'dns.queries',
  'dns.answers',
  ...dnsProblemReasons.map((r) => `dns.malformed.${r}`),
  'pref64.changes',
  'pref64.expired',
  'pref64.refused',
  'probe.failovers',
] as const;

export class Pref64Discovery {
  private readonly options: Pref64DiscoveryOptions;
  private readonly now: () => number;
  private readonly table: Pref64Table;
  readonly counters: Record<string, number> = Object.fromEntries(discoveryCounterNames.map((n) => [n, 0]));
  private active: Pref64Candidate | null = null;
  private draining: string | null = null;
  private changedAt: string | null = null;
  private ra: RaListener | null = null;
  private probe: PlatProbe | null = null;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private dnsInFlight = false;
  private stopped = false;

  constructor(options: Pref64DiscoveryOptions) {
    assert.ok(options.configured.length > 0, 'at least one configured PREF64');
    assert.ok(options.drainMs >= 0, 'drainMs must not be negative');
    this.options = options;
    this.now = options.now ?? Date.now;
    this.table = new Pref64Table(options.configured);
  }

  /** Publishes the configured prefix, then starts listening, asking and probing. */
  start(): void {
    this.recompute('start');
    if (this.options.raDiscovery) {
      this.ra = startRaListener({
        device: this.options.raDevice,
        excludeDevices: this.options.tunDevice === undefined ? [] : [this.options.tunDevice],
        solicitationIntervalMs: this.options.solicitationIntervalMs,
        onAdvertisement: (router, hopLimit, parsed) => this.onRouterAdvertisement(router, parsed, hopLimit),
        onEvent: (event, detail) => {
          this.counters[event]++;
          this.options.log(`clat: ${event === 'rs.sent' ? '' : `${event}: `}${detail}`);
        },
      });
    }
    if (this.options.probe !== null) {
      const probe = this.options.probe;
      this.probe = new PlatProbe({
        ipv4Address: probe.ipv4Address,
        lossThreshold: probe.lossThreshold,
        onChange: (prefix, state) => {
          this.options.log(`clat: PLAT probe: ${prefix} is ${state}`);
          this.recompute(`probe: ${prefix} ${state}`);
        },
        onSendError: (prefix, error) => this.options.log(`clat: PLAT probe via ${prefix}: ${error.message}`),
      });
      this.probe.start();
      this.probe.setPrefixes(this.table.candidates().map((c) => c.prefix));
      this.probe.round();
      this.every('probe', probe.intervalMs, () => this.probe?.round());
    }
    this.maybeAskDns();
  }

  stop(): void {
    this.stopped = true;
    this.ra?.stop();
    this.probe?.stop();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * One router advertisement with the hop limit it arrived with (public for tests that feed RAs
   * without a socket). RFC 4861 sec. 6.1.2: an RA whose hop limit is not 255 came through a router
   * (it is off-link, maybe forged) and one whose source is not link-local is not from a router.
   */
  onRouterAdvertisement(router: string, parsed: ParsedRouterAdvertisement, hopLimit = 255): void {
    this.counters['ra.received']++;
    if (hopLimit !== 255) {
      this.counters['ra.malformed.hoplimit']++;
      this.options.log(
        `clat: RA from ${router} ignored: hop limit ${hopLimit}, not 255 (RFC 4861 sec. 6.1.2: it did not originate on this link)`,
      );
      return;
    }
    if (!router.toLowerCase().startsWith('fe80:')) {
      // RFC 4861 sec. 6.1.2: routers advertise from their link-local address.
      this.counters['ra.malformed.source']++;
      this.options.log(`clat: RA from ${router} ignored: the source is not link-local (RFC 4861 sec. 6.1.2)`);
      return;
    }
    for (const problem of parsed.problems) {
      this.counters[`ra.malformed.${problem.reason}`]++;
      this.options.log(
        `clat: RA from ${router}: ${parsed.discarded ? 'RA' : 'PREF64 option'} ignored: ${problem.why}`,
      );
    }
    const usable = parsed.pref64.filter((option) => this.acceptable(option.prefix, `RA from ${router}`));
    this.counters['ra.pref64'] += usable.length;
    const change = this.table.applyRouterAdvertisement(router, usable, this.now());
    for (const option of usable) if (option.lifetimeSeconds === 0) this.counters['ra.withdrawn']++;
    if (change.added.length > 0 || change.removed.length > 0) {
      this.recompute(`RA from ${router}: +[${change.added.join(' ')}] -[${change.removed.join(' ')}]`);
    } else {
      this.armExpiry();
    }
    this.maybeAskDns();
  }

  /** Re-evaluates lifetimes and the choice now (the expiry timer calls it; tests with their own clock too). */
  refresh(): void {
    this.recompute('lifetime ran out');
  }

  /** The active PREF64 and the one draining, as published to the workers. */
  current(): { active: string; source: string; draining: string | null } {
    assert.ok(this.active !== null, 'current() before start()');
    return { active: this.active.prefix, source: this.active.source, draining: this.draining };
  }

  /** The status document's `pref64` section. */
  status(): Record<string, unknown> {
    const now = this.now();
    return {
      active: this.active?.prefix,
      source: this.active?.source,
      from: this.active?.from,
      since: this.changedAt,
      draining: this.draining,
      candidates: this.table.candidates().map((c) => ({
        prefix: c.prefix,
        source: c.source,
        from: c.from,
        expiresInSeconds:
          c.expiresAtMs === null ? null : Math.max(0, Math.round((c.expiresAtMs - now) / 1000)),
        probe: this.probe?.stats(c.prefix) ?? undefined,
      })),
      counters: Object.fromEntries(Object.entries(this.counters).filter(([, v]) => v !== 0)),
    };
  }

  probeStats(prefix: string): ProbeStats | null {
    return this.probe?.stats(prefix) ?? null;
  }

  private acceptable(prefix: string, from: string): boolean {
    try {
      parseRfc6052Prefix(prefix);
      return true;
    } catch (error) {
      this.counters['pref64.refused']++;
      this.options.log(`clat: ${prefix} from ${from} refused: ${(error as Error).message}`);
      return false;
    }
  }

  private maybeAskDns(): void {
    if (this.stopped || !this.options.dns64Discovery || this.dnsInFlight || this.table.hasRouterPrefix())
      return;
    if (this.timers.has('dns')) return;
    this.dnsInFlight = true;
    this.counters['dns.queries']++;
    void discoverDns64(this.options.dnsServers, { timeoutMs: DNS_TIMEOUT_MS }).then((result) => {
      this.dnsInFlight = false;
      if (this.stopped) return;
      if ('reason' in result) {
        this.counters[`dns.malformed.${result.reason}`]++;
        this.options.log(`clat: DNS64 discovery: ${result.why}; asking again in ${DNS_RETRY_MS / 1000} s`);
        this.after('dns', DNS_RETRY_MS, () => this.maybeAskDns());
        return;
      }
      this.counters['dns.answers']++;
      for (const problem of result.problems) {
        this.counters[`dns.malformed.${problem.reason}`]++;
        this.options.log(`clat: DNS64 discovery: record ignored: ${problem.why}`);
      }
      const resolver = this.options.dnsServers.map((s) => s.address).join(',');
      const prefixes = result.prefixes
        .map((p) => p.prefix)
        .filter((p) => this.acceptable(p, `DNS64 (${resolver})`));
      const ttl = Math.max(DNS_TTL_FLOOR_SECONDS, result.ttlSeconds);
      const change = this.table.applyDns(resolver, prefixes, ttl, this.now());
      // Ask again a little before the answer's TTL runs out (RFC 7050 sec. 5), so it never lapses.
      this.after('dns', Math.max(1000, ttl * 1000 - 2000), () => this.maybeAskDns());
      if (change.added.length > 0 || change.removed.length > 0) {
        this.recompute(`DNS64: +[${change.added.join(' ')}] -[${change.removed.join(' ')}]`);
      } else {
        this.armExpiry();
      }
    });
  }

  /** Chooses the active prefix, publishes it when it changed, and re-arms the expiry timer. */
  private recompute(reason: string): void {
    if (this.stopped) return;
    for (const gone of this.table.expire(this.now())) {
      this.counters['pref64.expired']++;
      this.options.log(`clat: ${gone.prefix} (${gone.source} from ${gone.from}) expired`);
    }
    const candidates = this.table.candidates();
    this.probe?.setPrefixes(candidates.map((c) => c.prefix));
    const probe = this.probe;
    const chosen =
      (probe === null ? undefined : candidates.find((c) => probe.state(c.prefix) !== 'down')) ??
      candidates[0];
    const before = this.active;
    this.active = chosen;
    if (before === null || before.prefix !== chosen.prefix) {
      if (before !== null) {
        this.counters['pref64.changes']++;
        if (probe !== null && probe.state(before.prefix) === 'down') this.counters['probe.failovers']++;
      }
      this.draining = before === null ? null : before.prefix;
      this.changedAt = new Date(this.now()).toISOString();
      this.publish();
      this.options.log(
        `clat: PREF64 ${chosen.prefix} (${chosen.source}${chosen.from ? ` from ${chosen.from}` : ''})` +
          `${before === null ? '' : `, was ${before.prefix}, draining for ${this.options.drainMs / 1000} s`}: ${reason}`,
      );
      if (this.draining !== null) {
        this.after('drain', this.options.drainMs, () => {
          this.draining = null;
          this.publish();
        });
      }
    }
    this.armExpiry();
    this.maybeAskDns();
  }

  private publish(): void {
    assert.ok(this.active !== null, 'publish before a prefix was chosen');
    this.options.slot.publish(
      slotPrefix(this.active.prefix),
      this.draining === null ? null : slotPrefix(this.draining),
    );
  }

  private armExpiry(): void {
    const next = this.table.nextExpiryMs();
    if (next === null) {
      this.cancel('expiry');
      return;
    }
    this.after('expiry', Math.max(0, next - this.now()) + 1, () => this.refresh());
  }

  private after(name: string, delayMs: number, run: () => void): void {
    this.cancel(name);
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(name);
      run();
    }, delayMs);
    timer.unref();
    this.timers.set(name, timer);
  }

  private every(name: string, intervalMs: number, run: () => void): void {
    this.cancel(name);
    const timer = setInterval(run, intervalMs);
    timer.unref();
    this.timers.set(name, timer);
  }

  private cancel(name: string): void {
    const timer = this.timers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(name);
  }
}

function slotPrefix(text: string): SlotPrefix {
  const parsed = parseIpv6Prefix(text);
  assert.ok('address' in parsed, `slot prefix ${text} does not parse`);
  return { address: parsed.address, length: parsed.length };
}
