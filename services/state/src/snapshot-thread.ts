// Snapshots off the packet worker (issue 9: "the snapshot must not stall the packet worker"). In the
// caller's synchronous turn the state's tables are copied (a memcpy of the typed arrays, so the image is
// exactly the state at the batch cut); a helper thread encodes the copy and hands the bytes back. The
// worker keeps translating while the encoding runs (test/snapshot-thread.test.ts). One helper thread per
// SnapshotThread, started on first use, one snapshot at a time.
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { copyNatStateTables, type NatState } from '../../nat-engine/src/index.js';

interface Reply {
  id: number;
  bytes?: Uint8Array;
  /** The table copies, given back for the next snapshot to copy into. */
  spare?: ArrayBuffer[];
  error?: string;
}

export class SnapshotThread {
  private worker: Worker | null = null;
  private nextId = 1;
  /**
   * The last snapshot's table copies, back from the thread: the next take() copies into them, so the
   * worker's pause is a memcpy into touched pages, not an allocation (about 5x shorter at 1,000,000
   * sessions; `npm run bench -- snapshot-pause`). Costs one copy of the tables kept between snapshots.
   */
  private spare: ArrayBuffer[] | undefined;
  private readonly waiting = new Map<
    number,
    { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }
  >();
  /** Snapshots encoded by the thread, and the synchronous part (the table copy) of the last one. */
  readonly counters = { taken: 0, lastCopyMs: 0 };

  /**
   * Copies `state` now (the image is the state at this instant) and resolves with its snapshot bytes,
   * encoded on the helper thread.
   */
  take(state: NatState, timeMs: number): Promise<Uint8Array> {
    const started = performance.now();
    const tables = copyNatStateTables(state, this.spare);
    this.spare = undefined; // transferred with the request
    this.counters.lastCopyMs = performance.now() - started;
    const worker = this.start();
    const id = this.nextId++;
    // Referenced while a snapshot is pending (a caller may be awaiting nothing else), not when idle.
    worker.ref();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, tables, timeMs }, tables.buffers);
    });
  }

  /** Ends the helper thread (a pending snapshot is rejected). */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (worker !== null) await worker.terminate();
    for (const [, w] of this.waiting) w.reject(new Error('the snapshot thread was stopped'));
    this.waiting.clear();
  }

  private start(): Worker {
    if (this.worker !== null) return this.worker;
    const entry = new URL(
      import.meta.url.endsWith('.ts') ? './snapshot-thread-entry.ts' : './snapshot-thread-entry.js',
      import.meta.url,
    );
    // Under the test runner the sources are TypeScript: a Worker cannot load .ts on Node 20, so it
    // registers tsx's loader first. The built package (dist/) loads the .js entry directly.
    const worker = entry.pathname.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`,
          { eval: true, execArgv: [], name: 'xlat64-snapshot' },
        )
      : new Worker(entry, { execArgv: [], name: 'xlat64-snapshot' });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      const w = this.waiting.get(reply.id);
      assert.ok(w !== undefined, 'a reply to a snapshot request');
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (reply.spare !== undefined) this.spare = reply.spare;
      if (reply.bytes !== undefined) {
        this.counters.taken++;
        w.resolve(reply.bytes);
      } else w.reject(new Error(`snapshot thread: ${reply.error}`));
    });
    worker.on('error', (error) => {
      for (const [, w] of this.waiting) w.reject(error);
      this.waiting.clear();
      this.worker = null;
    });
    this.worker = worker;
    return worker;
  }
}
