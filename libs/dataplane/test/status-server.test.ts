// The status socket serves the role's current counters to each reader, and a reader that finds
// no server gets an error naming the socket and the likely cause.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findStatusSockets, readStatus, StatusServer } from '../src/status-server.js';

const dir = mkdtempSync(join(tmpdir(), 'x64-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('status socket', () => {
  it('answers each connection with the snapshot taken at that moment', async () => {
    let packets = 1;
    const server = new StatusServer(join(dir, 'plat.sock'), () => ({
      role: 'plat',
      pid: process.pid,
      startedAt: 'then',
      counters: { packets64: packets },
    }));
    await server.start();
    try {
      expect(findStatusSockets(dir)).toEqual([join(dir, 'plat.sock')]);
      expect((await readStatus(join(dir, 'plat.sock'))).counters).toEqual({ packets64: 1 });
      packets = 5;
      expect((await readStatus(join(dir, 'plat.sock'))).counters).toEqual({ packets64: 5 });
    } finally {
      await server.stop();
    }
    expect(findStatusSockets(dir)).toEqual([]);
  });

  it('names the socket when no role answers', async () => {
    await expect(readStatus(join(dir, 'none.sock'))).rejects.toThrow(
      /none\.sock: ENOENT — is an xlat64 plat\/clat running/,
    );
  });
});
