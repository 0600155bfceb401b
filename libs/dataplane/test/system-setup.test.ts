// SystemSetup applies iproute2 steps in a real network namespace and undoes exactly what it
// applied, newest first — including when a later step fails halfway through start.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressStep, routeStep, runCommand, SystemSetup } from '../src/system-setup.js';

const ns = `x64t-setup-${process.pid}`;
const inNamespace = (argv: readonly string[]) => runCommand(['ip', 'netns', 'exec', ns, ...argv]);
const show = (...args: string[]) => execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });

beforeAll(() => {
  execFileSync('ip', ['netns', 'add', ns]);
  execFileSync('ip', ['-n', ns, 'link', 'add', 'x64dummy', 'type', 'veth', 'peer', 'name', 'x64dummyp']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'x64dummy', 'up']);
  execFileSync('ip', ['-n', ns, 'link', 'set', 'x64dummyp', 'up']);
});

afterAll(() => {
  execFileSync('ip', ['netns', 'del', ns]);
});

describe('SystemSetup', () => {
  it('adds an address and a route, then removes both on undoAll', () => {
    const setup = new SystemSetup(inNamespace);
    setup.apply(addressStep('x64dummy', '192.0.2.1/32'));
    setup.apply(routeStep('x64dummy', '203.0.113.0/24'));
    expect(show('-4', 'addr', 'show', 'dev', 'x64dummy')).toContain('192.0.2.1/32');
    expect(show('-4', 'route', 'show', 'dev', 'x64dummy')).toContain('203.0.113.0/24');
    expect(setup.undoAll()).toEqual([]);
    expect(show('-4', 'addr', 'show', 'dev', 'x64dummy')).not.toContain('192.0.2.1');
    expect(show('-4', 'route', 'show', 'dev', 'x64dummy')).not.toContain('203.0.113.0');
  });

  it('undoes the earlier steps and names the failed step when a step fails', () => {
    const setup = new SystemSetup(inNamespace);
    setup.apply(routeStep('x64dummy', '198.51.100.0/24'));
    expect(() => setup.apply(routeStep('x64-no-such-device', '203.0.113.0/24'))).toThrow(
      /cannot route 203\.0\.113\.0\/24 into x64-no-such-device/,
    );
    expect(setup.appliedCount).toBe(0);
    expect(show('-4', 'route', 'show')).not.toContain('198.51.100.0');
  });
});
