// Tests of the global namespace teardown: it removes x64t- namespaces whose creator is gone and
// leaves alone those whose creator still runs (a concurrent test run on the same machine).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  forgetNamespaceOwner,
  OWNER_DIR,
  recordNamespaceOwner,
  removeTestNamespaces,
} from './global-teardown.js';

const OWNED = 'x64t-gt-owned';
const ORPHAN = 'x64t-gt-orphan';
const STALE = 'x64t-gt-stale';
const PENDING = 'x64t-gt-pending';
const list = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });

afterAll(() => {
  for (const ns of [OWNED, ORPHAN]) {
    spawnSync('ip', ['netns', 'del', ns]);
    forgetNamespaceOwner(ns);
  }
});

describe('global namespace teardown', () => {
  it('removes a test namespace whose owner exited and keeps one whose owner is alive', () => {
    // A process that has already exited stands for a crashed test fork.
    const dead = spawnSync('true').pid;
    expect(dead).toBeGreaterThan(0);
    recordNamespaceOwner(ORPHAN, dead);
    execFileSync('ip', ['netns', 'add', ORPHAN]);
    recordNamespaceOwner(OWNED);
    execFileSync('ip', ['netns', 'add', OWNED]);

    const removed = removeTestNamespaces();
    expect(removed).toContain(ORPHAN);
    expect(removed).not.toContain(OWNED);
    expect(list()).not.toMatch(new RegExp(`^${ORPHAN}\\b`, 'm'));
    expect(list()).toMatch(new RegExp(`^${OWNED}\\b`, 'm'));
  });

  it("forgets the owner record of a namespace that is gone and whose owner exited, and keeps a live owner's", () => {
    // A suite that deleted its namespace but not its owner record stands for the leak this removes.
    const dead = spawnSync('true').pid;
    recordNamespaceOwner(STALE, dead);
    recordNamespaceOwner(PENDING); // this process, alive: its namespace may be about to be created
    removeTestNamespaces();
    expect(existsSync(`${OWNER_DIR}/${STALE}`)).toBe(false);
    expect(existsSync(`${OWNER_DIR}/${PENDING}`)).toBe(true);
    forgetNamespaceOwner(PENDING);
  });
});
