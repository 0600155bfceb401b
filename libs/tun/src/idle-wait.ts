// The idle wait of a queue worker that also watches its thread's event loop (libs/tun readBatch's
// loopFd, libs/xdp receive/waitAny): how long the next wait may last, whether the loop's fd is in it,
// and when a wait cut short by the loop still ends an idle period. One per worker; no allocation.
//
// A wait the loop ends (a NATS reply, a message on the worker's port) resumes until its idle period is
// over, so the handler's onIdle keeps its cadence however often the loop has I/O; an idle period that
// ends with the loop busy all along is still one. Past LOOP_WAKES_IN_ROW_MAX loop wakes with nothing
// else between, the loop's fd is left out until the next other outcome: a loop whose fd stays ready
// cannot keep the worker spinning.

const LOOP_WAKES_IN_ROW_MAX = 256;

export class IdleWait {
  /** The end of an idle period a loop wake cut short (performance.now()), or -1. */
  private deadline = -1;
  private loopWakesInRow = 0;

  constructor(
    private readonly pollTimeoutMs: number,
    private readonly loopFd: number,
  ) {}

  /** The next wait's timeout: the whole poll timeout, or what is left of a period a loop wake cut short. */
  timeoutMs(): number {
    return this.deadline < 0 ? this.pollTimeoutMs : Math.max(0, Math.ceil(this.deadline - performance.now()));
  }

  /** The loop's fd for the next wait, or -1 (left out after too many loop wakes in a row). */
  loopFdNow(): number {
    return this.loopWakesInRow < LOOP_WAKES_IN_ROW_MAX ? this.loopFd : -1;
  }

  /** The wait ended for the event loop alone (the worker yields to it). True: the idle period is over. */
  loopWoken(): boolean {
    this.loopWakesInRow++;
    const nowMs = performance.now();
    if (this.deadline < 0) {
      this.deadline = nowMs + this.pollTimeoutMs;
      return false;
    }
    if (nowMs < this.deadline) return false;
    this.deadline = -1;
    return true;
  }

  /** Anything else ended the wait: packets, a timeout, a wake from another worker. */
  reset(): void {
    this.deadline = -1;
    this.loopWakesInRow = 0;
  }
}
