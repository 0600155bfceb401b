// The PREF64s a CLAT knows and which one it prefers: RFC 8781 router advertisements first, then
// RFC 7050 DNS64 discovery (asked only while no RA carries the option), then configuration
// (RFC 7050 sec. 3 / RFC 8781 sec. 5 precedence); each learned prefix lives for its lifetime or TTL.
// Pure: the clock is a parameter, so tests step through lifetimes without waiting.
import assert from 'node:assert/strict';

export type Pref64Source = 'ra' | 'dns' | 'config';

export interface Pref64Candidate {
  readonly prefix: string;
  readonly source: Pref64Source;
  /** The router (RA) or resolver (DNS) it came from; undefined for configuration. */
  readonly from: string | undefined;
  /** When it stops being valid (ms since the epoch), or null for configuration. */
  readonly expiresAtMs: number | null;
}

interface Learned {
  readonly prefix: string;
  readonly from: string;
  readonly expiresAtMs: number;
  /** When this router's or resolver's latest word arrived; newer routers sort first. */
  readonly heardAtMs: number;
}

export interface Pref64Change {
  readonly added: string[];
  readonly removed: string[];
}

export class Pref64Table {
  private readonly configured: readonly string[];
  /** Per router: the PREF64s of its latest RA (RFC 8781 sec. 5: the latest RA replaces what it said). */
  private readonly byRouter = new Map<string, Learned[]>();
  private dns: Learned[] = [];

  constructor(configured: readonly string[]) {
    assert.ok(configured.length > 0, 'at least one configured PREF64 is needed as the last resort');
    this.configured = [...configured];
  }

  /**
   * A router advertisement from `router` carrying `options` (its PREF64 options, possibly none).
   * An RA without the option leaves that router's prefixes to run out their lifetimes; one with
   * options replaces them (a router that now announces another prefix has moved to another NAT64);
   * a lifetime of 0 withdraws the prefix at once.
   */
  applyRouterAdvertisement(
    router: string,
    options: readonly { prefix: string; lifetimeSeconds: number }[],
    nowMs: number,
  ): Pref64Change {
    if (options.length === 0) return { added: [], removed: [] };
    const before = this.prefixesOf(this.byRouter.get(router) ?? []);
    const next: Learned[] = [];
    for (const option of options) {
      if (option.lifetimeSeconds === 0 || next.some((l) => l.prefix === option.prefix)) continue;
      next.push({
        prefix: option.prefix,
        from: router,
        expiresAtMs: nowMs + option.lifetimeSeconds * 1000,
        heardAtMs: nowMs,
      });
    }
    if (next.length === 0) this.byRouter.delete(router);
    else this.byRouter.set(router, next);
    return diff(before, this.prefixesOf(next));
  }

  /** The prefixes of a DNS64 discovery answered by `resolver`, valid for `ttlSeconds`. */
  applyDns(resolver: string, prefixes: readonly string[], ttlSeconds: number, nowMs: number): Pref64Change {
    const before = this.prefixesOf(this.dns);
    this.dns = prefixes.map((prefix) => ({
      prefix,
      from: resolver,
      expiresAtMs: nowMs + ttlSeconds * 1000,
      heardAtMs: nowMs,
    }));
    return diff(before, prefixes);
  }

  /** Drops every learned prefix whose lifetime has run out; returns what went. */
  expire(nowMs: number): Pref64Candidate[] {
    const gone: Pref64Candidate[] = [];
    for (const [router, learned] of this.byRouter) {
      const kept = learned.filter((l) => l.expiresAtMs > nowMs);
      for (const l of learned) if (l.expiresAtMs <= nowMs) gone.push(candidate(l, 'ra'));
      if (kept.length === 0) this.byRouter.delete(router);
      else this.byRouter.set(router, kept);
    }
    for (const l of this.dns) if (l.expiresAtMs <= nowMs) gone.push(candidate(l, 'dns'));
    this.dns = this.dns.filter((l) => l.expiresAtMs > nowMs);
    return gone;
  }

  /** Whether some router currently advertises a PREF64 (then DNS64 is not asked, RFC 8781 sec. 5). */
  hasRouterPrefix(): boolean {
    return this.byRouter.size > 0;
  }

  /** When the next learned prefix runs out, or null. */
  nextExpiryMs(): number | null {
    let next: number | null = null;
    for (const l of [...[...this.byRouter.values()].flat(), ...this.dns]) {
      if (next === null || l.expiresAtMs < next) next = l.expiresAtMs;
    }
    return next;
  }

  /**
   * Every usable PREF64 in order of preference: RA (most recently heard router first, then the
   * order in its RA), DNS64 (answer order, only while no RA carries the option), configuration.
   * A prefix known from several sources appears once, at its most preferred place.
   */
  candidates(): Pref64Candidate[] {
    const out: Pref64Candidate[] = [];
    const add = (c: Pref64Candidate) => {
      if (!out.some((o) => o.prefix === c.prefix)) out.push(c);
    };
    const routers = [...this.byRouter.values()].sort((a, b) => b[0].heardAtMs - a[0].heardAtMs);
    for (const learned of routers) for (const l of learned) add(candidate(l, 'ra'));
    if (!this.hasRouterPrefix()) for (const l of this.dns) add(candidate(l, 'dns'));
    for (const prefix of this.configured)
      add({ prefix, source: 'config', from: undefined, expiresAtMs: null });
    return out;
  }

  private prefixesOf(learned: readonly Learned[]): string[] {
    return learned.map((l) => l.prefix);
  }
}

function candidate(l: Learned, source: 'ra' | 'dns'): Pref64Candidate {
  return { prefix: l.prefix, source, from: l.from, expiresAtMs: l.expiresAtMs };
}

function diff(before: readonly string[], after: readonly string[]): Pref64Change {
  return {
    added: after.filter((p) => !before.includes(p)),
    removed: before.filter((p) => !after.includes(p)),
  };
}
