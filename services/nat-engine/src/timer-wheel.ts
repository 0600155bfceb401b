// A hashed timer wheel over entity indices (sessions, blocks, held SYNs): expiry without a timer per entity.
// Lists are intrusive and doubly linked in typed arrays; slot heads are sentinel nodes after the entities,
// so add/remove are O(1) and need no per-entity slot field. Entities are visited no earlier than their due
// time; deadlines beyond one turn of the wheel are visited early and must be re-added by the owner (lazy).

import { assert } from './errors.js';

export class TimerWheel {
  readonly capacity: number;
  readonly tickMs: number;
  private readonly slotMask: number;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Last tick whose slot has been visited. */
  private tick: number;

  constructor(capacity: number, slotCount: number, tickMs: number, startMs: number) {
    assert(capacity > 0 && Number.isInteger(capacity), 'wheel capacity');
    assert(slotCount > 0 && (slotCount & (slotCount - 1)) === 0, 'wheel slot count is a power of two');
    this.capacity = capacity;
    this.tickMs = tickMs;
    this.slotMask = slotCount - 1;
    this.next = new Int32Array(capacity + slotCount).fill(-1);
    this.prev = new Int32Array(capacity + slotCount).fill(-1);
    for (let s = 0; s < slotCount; s++) {
      this.next[capacity + s] = capacity + s;
      this.prev[capacity + s] = capacity + s;
    }
    this.tick = Math.floor(startMs / tickMs);
  }

  isScheduled(entity: number): boolean {
    return this.next[entity] !== -1;
  }

  /** Schedules `entity` to be visited at the first tick after `dueMs` (and after the current tick). */
  add(entity: number, dueMs: number): void {
    if (this.next[entity] !== -1) this.remove(entity);
    const tick = Math.max(Math.floor(dueMs / this.tickMs) + 1, this.tick + 1);
    const head = this.capacity + (tick & this.slotMask);
    const last = this.prev[head];
    this.next[entity] = head;
    this.prev[entity] = last;
    this.next[last] = entity;
    this.prev[head] = entity;
  }

  remove(entity: number): void {
    const n = this.next[entity];
    if (n === -1) return;
    const p = this.prev[entity];
    this.next[p] = n;
    this.prev[n] = p;
    this.next[entity] = -1;
    this.prev[entity] = -1;
  }

  /**
   * Visits every entity whose slot came due up to `nowMs`, unscheduled, in slot order. The visitor either
   * expires the entity or re-adds it (a later deadline); it must not add or remove other entities of
   * this wheel. At most one full turn of slots per call.
   */
  advance(nowMs: number, visit: (entity: number) => void): void {
    const target = Math.floor(nowMs / this.tickMs);
    const slots = this.slotMask + 1;
    const from = Math.max(this.tick + 1, target - slots + 1);
    for (let t = from; t <= target; t++) {
      const head = this.capacity + (t & this.slotMask);
      // Detach the slot's list first, so entities re-added into this slot wait for its next turn.
      let e = this.next[head];
      if (e === head) continue;
      this.next[this.prev[head]] = -1;
      this.next[head] = head;
      this.prev[head] = head;
      while (e !== -1) {
        const following = this.next[e];
        this.next[e] = -1;
        this.prev[e] = -1;
        visit(e);
        e = following;
      }
    }
    if (target > this.tick) this.tick = target;
  }
}
