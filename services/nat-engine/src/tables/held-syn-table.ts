// RFC 6146 sec. 3.5.2.2: unsolicited IPv4 SYNs held for TCP_INCOMING_SYN (6 s). If the subscriber's SYN
// for the same connection arrives in time (simultaneous open), the held SYN is silently discarded;
// otherwise the packet path answers it with ICMP port unreachable. Live-only, not replicated: after a
// takeover the remote retransmits its SYN. Bounded by heldSynsMax; at the bound new SYNs are dropped.

import { TimerWheel } from '../timer-wheel.js';
import { finish, INDEX_ENTITY, INDEX_TAG, indexInsert, indexRemove, indexSizeFor, mix } from './hash.js';
import { preTouched } from './pre-touch.js';

export class HeldSynTable {
  readonly capacity: number;
  private readonly local4: Uint32Array;
  private readonly localPort: Uint16Array;
  private readonly remote4: Uint32Array;
  private readonly remotePort: Uint16Array;
  readonly expiresAtMs: Float64Array;
  private readonly used: Uint8Array;
  private readonly freeNext: Int32Array;
  private freeHead = 0;
  private readonly index: Int32Array;
  readonly wheel: TimerWheel;
  count = 0;

  constructor(capacity: number, startMs: number) {
    this.capacity = capacity;
    this.local4 = preTouched(new Uint32Array(capacity));
    this.localPort = preTouched(new Uint16Array(capacity));
    this.remote4 = preTouched(new Uint32Array(capacity));
    this.remotePort = preTouched(new Uint16Array(capacity));
    this.expiresAtMs = preTouched(new Float64Array(capacity));
    this.used = preTouched(new Uint8Array(capacity));
    this.freeNext = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.freeNext[i] = i + 1 < capacity ? i + 1 : -1;
    this.index = preTouched(new Int32Array(indexSizeFor(capacity)));
    this.wheel = new TimerWheel(capacity, 16, 1000, startMs);
  }

  private hash(local4: number, localPort: number, remote4: number, remotePort: number): number {
    return finish(mix(mix(mix(0x6a09e667, local4), remote4), localPort | (remotePort << 16)));
  }

  private readonly hashOf = (h: number): number =>
    this.hash(this.local4[h], this.localPort[h], this.remote4[h], this.remotePort[h]);

  find(local4: number, localPort: number, remote4: number, remotePort: number): number {
    if (this.count === 0) return -1;
    const mask = this.index.length - 1;
    const hash = this.hash(local4, localPort, remote4, remotePort);
    const tag = hash & INDEX_TAG;
    let i = hash & mask;
    for (;;) {
      const word = this.index[i];
      if (word === 0) return -1;
      if ((word & INDEX_TAG) !== tag) {
        i = (i + 1) & mask;
        continue;
      }
      const h = (word & INDEX_ENTITY) - 1;
      if (
        this.local4[h] === local4 &&
        this.localPort[h] === localPort &&
        this.remote4[h] === remote4 &&
        this.remotePort[h] === remotePort
      ) {
        return h;
      }
      i = (i + 1) & mask;
    }
  }

  /** Holds a SYN until `expiresAtMs`; returns its hold id, or -1 when the table is full. */
  add(local4: number, localPort: number, remote4: number, remotePort: number, expiresAtMs: number): number {
    const h = this.freeHead;
    if (h === -1) return -1;
    this.freeHead = this.freeNext[h];
    this.local4[h] = local4;
    this.localPort[h] = localPort;
    this.remote4[h] = remote4;
    this.remotePort[h] = remotePort;
    this.expiresAtMs[h] = expiresAtMs;
    this.used[h] = 1;
    indexInsert(this.index, this.hashOf(h), h);
    this.wheel.add(h, expiresAtMs);
    this.count++;
    return h;
  }

  remove(h: number): void {
    if (this.used[h] === 0) return;
    indexRemove(this.index, this.hashOf(h), h, this.hashOf);
    this.wheel.remove(h);
    this.used[h] = 0;
    this.freeNext[h] = this.freeHead;
    this.freeHead = h;
    this.count--;
  }

  isUsed(h: number): boolean {
    return this.used[h] === 1;
  }
}
