// Invalid configuration is refused at start with a typed error naming the field (DESIGN.md failure model:
// "bad config: refused at start with a message naming the field and the fix").
import { describe, expect, it } from 'vitest';
import { NatConfigError, type NatEngineConfigInput, validateConfig } from '../src/internal.js';

function refusal(input: Partial<NatEngineConfigInput>): NatConfigError {
  try {
    validateConfig({ pool: ['203.0.113.0/24'], ...input } as NatEngineConfigInput);
  } catch (error) {
    expect(error).toBeInstanceOf(NatConfigError);
    return error as NatConfigError;
  }
  throw new Error('configuration was accepted');
}

describe('configuration', () => {
  it('proves a valid configuration with prefixes, ranges and single addresses resolves to one pool', () => {
    const c = validateConfig({ pool: ['198.51.100.10-198.51.100.20', '203.0.113.0/30', '192.0.2.7'] });
    expect(c.poolAddressCount).toBe(11 + 4 + 1);
    expect(c.protocols[0]).toEqual({ portFirst: 1024, portLast: 65535, blocksPerAddress: 126 });
    expect(c.udpTimeoutMs).toBe(300_000);
    expect(c.tcpEstablishedTimeoutMs).toBe(7_440_000);
    expect(c.subscriberPrefixLength).toBe(56);
  });

  it('proves overlapping pools are refused naming the later entry', () => {
    const e = refusal({ pool: ['203.0.113.0/24', '198.51.100.1', '203.0.113.128-203.0.113.130'] });
    expect(e.code).toBe('XLAT64_ERR_CONFIG');
    expect(e.field).toBe('pool[2]');
    expect(e.message).toMatch(/overlaps pool\[0\]/);
  });

  it('proves a malformed pool entry and an empty pool are refused', () => {
    expect(refusal({ pool: ['203.0.113.0/33'] }).field).toBe('pool[0]');
    expect(refusal({ pool: ['203.0.113.1/24'] }).message).toMatch(/host bits/);
    expect(refusal({ pool: [] }).field).toBe('pool');
  });

  it('proves port ranges out of bounds or reversed are refused', () => {
    expect(refusal({ ports: { udp: [1024, 70000] } }).field).toBe('ports.udp[1]');
    expect(refusal({ ports: { tcp: [2000, 1000] } }).field).toBe('ports.tcp');
  });

  it('proves a block size that does not divide a port range is refused naming blockSizePorts', () => {
    const e = refusal({ blockSizePorts: 1000 });
    expect(e.field).toBe('blockSizePorts');
    expect(e.message).toMatch(/does not divide/);
  });

  it('proves timeouts under the RFC minimums are refused, each naming its field', () => {
    expect(refusal({ timeouts: { udpMs: 119_999 } }).field).toBe('timeouts.udpMs');
    expect(refusal({ timeouts: { tcpEstablishedMs: 7_439_999 } }).field).toBe('timeouts.tcpEstablishedMs');
    expect(refusal({ timeouts: { tcpTransitoryMs: 239_999 } }).field).toBe('timeouts.tcpTransitoryMs');
    expect(refusal({ timeouts: { icmpMs: 59_999 } }).field).toBe('timeouts.icmpMs');
    expect(refusal({ portReuseHoldMs: 60_000 }).field).toBe('portReuseHoldMs');
    expect(refusal({ blockIdleTimeoutMs: 60_000 }).field).toBe('blockIdleTimeoutMs');
  });

  it('proves unknown filtering and bad table bounds are refused', () => {
    expect(refusal({ filtering: 'port-dependent' as never }).field).toBe('filtering');
    expect(refusal({ sessionsMax: 0 }).field).toBe('sessionsMax');
    expect(refusal({ subscriberPrefixLength: 129 }).field).toBe('subscriberPrefixLength');
  });

  it('proves a deterministic prefix longer than the subscriber prefix is refused', () => {
    expect(refusal({ deterministic: { ipv6Prefix: '2001:db8::/64' } }).field).toBe(
      'deterministic.ipv6Prefix',
    );
    expect(refusal({ deterministic: { ipv6Prefix: 'nonsense' } }).field).toBe('deterministic.ipv6Prefix');
  });
});
