// Proves the engine's error values keep their contract (CONVENTIONS.md 10 and 11, errors.ts): each
// typed error carries its stable code, its name, the offending field, and a message that reads
// "<field>: <problem>; <fix>"; an assertion passes silently when true and throws "assertion failed:
// <message>" when false.
import { describe, expect, it } from 'vitest';
import { assert } from '../src/errors.js';
import { NatConfigError, NatStaticMappingError } from '../src/index.js';

describe('engine errors', () => {
  it('gives a configuration error its code, name, field and a message naming field, problem and fix', () => {
    const e = new NatConfigError('timeouts.udpMs', 'below 120000', 'raise it');
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('XLAT64_ERR_CONFIG');
    expect(e.name).toBe('NatConfigError');
    expect(e.field).toBe('timeouts.udpMs');
    expect(e.message).toBe('timeouts.udpMs: below 120000; raise it');
  });

  it('gives a static BIB error its own code and name, with the same field and message form', () => {
    const e = new NatStaticMappingError('staticMapping.ipv4Port', 'taken', 'pick another port');
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(NatConfigError);
    expect(e.code).toBe('XLAT64_ERR_STATIC_BIB');
    expect(e.name).toBe('NatStaticMappingError');
    expect(e.field).toBe('staticMapping.ipv4Port');
    expect(e.message).toBe('staticMapping.ipv4Port: taken; pick another port');
  });

  it('passes a true assertion and throws a false one with its message', () => {
    expect(() => assert(true, 'holds')).not.toThrow();
    expect(() => assert(false, 'the table has room')).toThrow(
      new Error('assertion failed: the table has room'),
    );
  });
});
