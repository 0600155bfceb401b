import { describe, expect, it } from 'vitest';
import { EngineVerdict, formatIpv6, TcpFlag } from '../src/internal.js';
import { harness, v4, v6 } from './helpers.js';

describe('smoke', () => {
  it('proves a UDP flow maps out and its reply maps back to the subscriber', () => {
    const { engine } = harness();
    expect(engine.outbound6(v6('udp', '2001:db8:0:100::1', 5000, '198.51.100.1', 53), 0)).toBe(
      EngineVerdict.Translate,
    );
    const r = engine.result;
    const pool = r.v4Src;
    const port = r.v4SrcPort;
    expect(engine.inbound4(v4('udp', '198.51.100.1', 53, pool, port), 10)).toBe(EngineVerdict.Translate);
    expect(formatIpv6(engine.result.v6)).toBe('2001:db8:0:100:0:0:0:1');
    expect(engine.result.v6Port).toBe(5000);
    void TcpFlag;
  });
});
