// RFC 4443 sec. 2.4 (f) and RFC 1812 sec. 4.3.2.8: a node MUST limit the rate of the ICMP errors it
// originates; a token bucket (rate per second, burst) per node, as Linux's icmp_msgs_per_sec /
// icmp_msgs_burst. Pure: the caller passes the time, so tests and simulators drive it with a fake clock.
import assert from 'node:assert';

/** Linux's defaults for the same global bucket (net.ipv4.icmp_msgs_per_sec, icmp_msgs_burst). */
export const ICMP_ERRORS_PER_SECOND_DEFAULT = 1000;
export const ICMP_ERRORS_BURST_DEFAULT = 50;

/**
 * A token bucket of `burst` tokens refilled at `ratePerSecond`. Tokens are kept in thousandths (an
 * integer), so a refill of `elapsedMs * ratePerSecond` thousandths is exact and allocation-free.
 */
export class IcmpErrorBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Errors the bucket let through. */
  sent = 0;
  /** Errors the bucket refused (the caller drops them and counts them under this name). */
  suppressed = 0;
  private milliTokens: number;
  private lastMs: number;

  constructor(ratePerSecond: number, burst: number, nowMs: number) {
    assert(Number.isInteger(ratePerSecond) && ratePerSecond >= 1, 'ratePerSecond is a positive integer');
    assert(Number.isInteger(burst) && burst >= 1, 'burst is a positive integer');
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.milliTokens = burst * 1000;
    this.lastMs = nowMs;
  }

  /** True when an error could be sent at `nowMs` (a token is there); takes nothing, counts nothing. */
  hasToken(nowMs: number): boolean {
    this.refill(nowMs);
    return this.milliTokens >= 1000;
  }

  /** True: send the error (a token was taken). False: suppress it (counted in `suppressed`). */
  take(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.milliTokens >= 1000) {
      this.milliTokens -= 1000;
      this.sent++;
      return true;
    }
    this.suppressed++;
    return false;
  }

  private refill(nowMs: number): void {
    // A clock that goes back mints nothing; the bucket waits for it to pass `lastMs` again.
    if (nowMs <= this.lastMs) return;
    const refilled = this.milliTokens + Math.floor(nowMs - this.lastMs) * this.ratePerSecond;
    this.milliTokens = Math.min(refilled, this.burst * 1000);
    this.lastMs = nowMs;
  }
}
