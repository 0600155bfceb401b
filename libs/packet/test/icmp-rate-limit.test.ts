// Proves the ICMP error token bucket (RFC 4443 sec. 2.4 (f), RFC 1812 sec. 4.3.2.8) lets a burst
// through, then exactly `ratePerSecond` errors per second, counts every suppressed error, and mints
// nothing when the clock goes back; driven by a fake clock.
import { describe, expect, it } from 'vitest';
import { IcmpErrorBucket } from '../src/index.js';

describe('IcmpErrorBucket', () => {
  it('lets `burst` errors through at once, then suppresses and counts the rest', () => {
    const bucket = new IcmpErrorBucket(100, 5, 0);
    const verdicts = Array.from({ length: 8 }, () => bucket.take(0));
    expect(verdicts).toEqual([true, true, true, true, true, false, false, false]);
    expect({ sent: bucket.sent, suppressed: bucket.suppressed }).toEqual({ sent: 5, suppressed: 3 });
  });

  it('refills one token per 1000 / ratePerSecond ms, never above burst', () => {
    const bucket = new IcmpErrorBucket(100, 2, 0);
    expect(bucket.take(0) && bucket.take(0)).toBe(true);
    expect(bucket.take(9)).toBe(false); // 9 ms = 0.9 token
    expect(bucket.take(10)).toBe(true); // 1 token at 10 ms
    expect(bucket.take(10)).toBe(false);
    // An hour idle fills the bucket to its burst, not to 360,000 tokens.
    const later = 3_600_000;
    expect([bucket.take(later), bucket.take(later), bucket.take(later)]).toEqual([true, true, false]);
  });

  it('under a flood of 100,000 errors over 10 simulated seconds sends exactly burst + rate x 10', () => {
    const bucket = new IcmpErrorBucket(200, 20, 0);
    for (let i = 0; i < 100_000; i++) bucket.take(Math.floor((i * 10_000) / 100_000));
    bucket.take(10_000);
    expect(bucket.sent).toBe(20 + 200 * 10);
    expect(bucket.sent + bucket.suppressed).toBe(100_001);
  });

  it('hasToken looks without taking or counting', () => {
    const bucket = new IcmpErrorBucket(1, 1, 0);
    expect([bucket.hasToken(0), bucket.hasToken(0)]).toEqual([true, true]);
    expect(bucket.take(0)).toBe(true);
    expect(bucket.hasToken(999)).toBe(false);
    expect(bucket.hasToken(1000)).toBe(true);
    expect({ sent: bucket.sent, suppressed: bucket.suppressed }).toEqual({ sent: 1, suppressed: 0 });
  });

  it('mints nothing when the clock goes back, and resumes when it passes the last time again', () => {
    const bucket = new IcmpErrorBucket(1000, 1, 1_000);
    expect(bucket.take(1_000)).toBe(true);
    expect(bucket.take(500)).toBe(false);
    expect(bucket.take(1_000)).toBe(false);
    expect(bucket.take(1_001)).toBe(true);
  });

  it('refuses a rate or burst that is not a positive integer (a programmer error: configs validate first)', () => {
    expect(() => new IcmpErrorBucket(0, 1, 0)).toThrow(/ratePerSecond/);
    expect(() => new IcmpErrorBucket(10, 0.5, 0)).toThrow(/burst/);
  });
});
