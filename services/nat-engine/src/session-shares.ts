// Session limits per share of the node (tenants, services/ingress): a subscriber's share decides its
// per-subscriber session bound (RFC 6888 REQ-4, per ISP) and the share's node-wide session quota. The
// engine asks `shareOf` for a new session's subscriber and reports every session its state adds or
// removes (`onSessions`), so the node-wide counts stay exact without a scan.

/** What the engine needs to hold each share to its session limits. */
export interface SessionShares {
  /** Share of a subscriber by the top 64 bits of its prefix (-1: none; the node's limits apply). */
  shareOf(w0: number, w1: number): number;
  /** Per share: most sessions one subscriber holds (0: the node's subscriberSessionsMax). */
  readonly subscriberSessionsMax: Int32Array;
  /** Per share: most sessions the share's subscribers hold at once, node-wide (0: no quota). */
  readonly sessionsMax: Int32Array;
  /** The share's sessions now, over every shard of the node. */
  sessionsOf(share: number): number;
  /** This shard's sessions of `share` changed by `delta`. */
  onSessions(share: number, delta: number): void;
  /** Sets this shard's count of every share to 0 (before a recount from the state). */
  resetSessions(): void;
}
