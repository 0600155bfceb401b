// Cluster pool leases in Redis (DESIGN.md "Pool and ports"): port blocks are leased and returned through
// the Functions in redis-pool-functions.ts (paired pooling, per-subscriber limits, hold-down before
// reuse). The engine's packet path never waits for Redis: RedisPoolAllocator answers the synchronous
// `tryLease` from a node-side reserve of pre-leased blocks that a background loop refills, and records
// assignments and releases behind it. When Redis comes back empty, the node re-claims what its event log
// says it holds (reconcile): the log is authoritative, Redis is not. Each lease and reconcile is a span
// of the control-plane tracer (`pool.lease.redis`, `pool.reconcile.redis`; a no-op unless tracing is on).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { annotateSpan, controlPlaneTracer, traced } from '../../../libs/telemetry/src/index.js';
import { type NatState, POOL_PENDING, type PoolAllocator } from '../../nat-engine/src/index.js';
import { StateError } from './errors.js';
import { POOL_LIBRARY, PoolRefusal } from './redis-pool-functions.js';

export interface RedisStateOptions {
  /** redis://[user:pass@]host:port[/db] or rediss://… for TLS. */
  url: string;
  /** TLS: CA bundle, client certificate and key (rediss:// or these options turn TLS on). */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Per-command timeout (default 2000 ms): a hung Redis is treated as a down one. */
  commandTimeoutMs?: number;
}

/** Opens a client that reconnects forever and fails commands at once while disconnected (the caller retries). */
export function connectRedis(options: RedisStateOptions): Redis {
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new StateError(
      'XLAT64_ERR_STATE_CONFIG',
      `state Redis url "${options.url}" is not a URL — write redis://host:6379 (or rediss:// for TLS)`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new StateError(
      'XLAT64_ERR_STATE_CONFIG',
      `state Redis url "${options.url}" has scheme ${parsed.protocol} — use redis:// or rediss://`,
    );
  }
  const redisOptions: RedisOptions = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 2000,
    retryStrategy: () => 200,
    lazyConnect: false,
  };
  if (options.tls !== undefined) redisOptions.tls = { ...options.tls };
  const client = new Redis(options.url, redisOptions);
  // Connection errors are expected during an outage: the callers see each failed command (and count
  // it); without a listener ioredis would print every reconnect attempt.
  client.on('error', () => {});
  return client;
}

/** Resolves once the client is connected (commands fail at once while it is not). */
export async function redisReady(client: Redis, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new StateError('XLAT64_ERR_POOL_UNAVAILABLE', `Redis not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    client.once('ready', onReady);
  });
}

/** One block as the owner's event log has it, for reconcile. */
export interface HeldBlock {
  block: number;
  /** Subscriber key (32 hex digits), '' for a block in the node's reserve. */
  subscriber: string;
  slot: number;
  addressIndex: number;
}

export interface PoolGeometry {
  addressCount: number;
  holdMs: number;
  subscriberBlocksMax: number;
  slots: { base: number; perAddress: number }[];
}

/** The pool geometry of an engine state: every node of a cluster must compute the same (fingerprinted). */
export function poolGeometryOf(state: NatState): { geometry: PoolGeometry; fingerprint: string } {
  const c = state.config;
  const geometry: PoolGeometry = {
    addressCount: c.poolAddressCount,
    holdMs: c.portReuseHoldMs,
    subscriberBlocksMax: c.subscriberBlocksMax,
    slots: [0, 1, 2].map((slot) => ({
      base: state.blockIndexOf(slot, 0, 0),
      perAddress: c.protocols[slot].blocksPerAddress,
    })),
  };
  const fingerprint = createHash('sha256')
    .update(
      JSON.stringify({
        geometry,
        ranges: [Array.from(c.rangeFirst), Array.from(c.rangeLast)],
        protocols: c.protocols,
        blockSizePorts: c.blockSizePorts,
      }),
    )
    .digest('hex')
    .slice(0, 32);
  return { geometry, fingerprint };
}

export function subscriberKey(words: ArrayLike<number>, offset = 0): string {
  let key = '';
  for (let i = 0; i < 4; i++) key += (words[offset + i] >>> 0).toString(16).padStart(8, '0');
  return key;
}

/** What the engine state holds (the fold of its event log): every leased block and its subscriber. */
export function heldBlocksOf(state: NatState): HeldBlock[] {
  const held: HeldBlock[] = [];
  for (let block = 0; block < state.blockOwner.length; block++) {
    const sub = state.blockOwner[block];
    if (sub === -1) continue;
    held.push({
      block,
      subscriber: subscriberKey(state.subscriberPrefix, sub * 4),
      slot: state.blockSlotOf(block),
      addressIndex: state.blockAddressIndexOf(block),
    });
  }
  return held;
}

/** The pool functions of one pool (one hash-tagged key prefix) on one Redis; every call is one FCALL. */
export class RedisPoolStore {
  readonly prefix: string;

  constructor(
    readonly redis: Redis,
    pool: string,
    readonly geometry: PoolGeometry,
    readonly fingerprint: string,
  ) {
    assert.ok(/^[A-Za-z0-9_.-]+$/.test(pool), 'pool name: letters, digits, _ . -');
    this.prefix = `{xlat64:pool:${pool}}`;
  }

  /** FUNCTION LOAD REPLACE: idempotent; needed after Redis lost its data (functions go with it). */
  async load(): Promise<void> {
    await this.redis.call('FUNCTION', 'LOAD', 'REPLACE', POOL_LIBRARY);
  }

  /** Creates the pool's free sets when missing; 'created' after a data loss means: reconcile. */
  async setup(): Promise<'created' | 'existing'> {
    try {
      return (await this.fcall('xlat64_pool_setup', this.fingerprint, JSON.stringify(this.geometry))) as
        | 'created'
        | 'existing';
    } catch (error) {
      if (String((error as Error).message).includes('XLAT64_POOL_GEOMETRY')) {
        throw new StateError(
          'XLAT64_ERR_STATE_CONFIG',
          `${(error as Error).message} — every node of a cluster needs the same pool, port ranges and block size`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** A block id, or a negative PoolRefusal. `subscriber` '' leases into the owner's reserve. */
  lease(owner: string, subscriber: string, slot: number, preferredAddress: number, nowMs: number) {
    return traced(
      controlPlaneTracer(),
      'pool.lease.redis',
      {
        'xlat64.owner': owner,
        'xlat64.protocol_slot': slot,
        'xlat64.pool.preferred_address_index': preferredAddress,
        'xlat64.pool.reserve': subscriber === '',
      },
      async () => {
        const block = Number(
          await this.fcall('xlat64_pool_lease', owner, subscriber, slot, preferredAddress, nowMs),
        );
        annotateSpan({ 'xlat64.block': block });
        return block;
      },
    );
  }

  async assign(owner: string, block: number, subscriber: string): Promise<number> {
    return Number(await this.fcall('xlat64_pool_assign', owner, block, subscriber));
  }

  async release(owner: string, block: number, nowMs: number): Promise<number> {
    return Number(await this.fcall('xlat64_pool_release', owner, block, nowMs));
  }

  /**
   * Makes Redis agree with `held` (the event log's view, authoritative): every listed block becomes the
   * owner's (claimed when free, its subscriber corrected; a block another owner has is a conflict, left
   * as it is) and the owner's blocks that are not listed are released. Sent as batches of
   * RECONCILE_BATCH_BLOCKS blocks, one Functions call each, pipelined: no single script holds Redis for
   * the whole state, and the batches travel together. Returns the claimed, released and conflicting blocks.
   */
  async reconcile(
    owner: string,
    held: readonly HeldBlock[],
    nowMs: number,
  ): Promise<{ claimed: number; released: number; conflicts: number[] }> {
    const attributes = { 'xlat64.owner': owner, 'xlat64.pool.held_blocks': held.length };
    return traced(controlPlaneTracer(), 'pool.reconcile.redis', attributes, async () => {
      const { claimed, conflicts } = await this.claim(owner, held);
      // The owner's blocks in Redis that the log does not list: released. Only this owner leases under its
      // name, and its allocator does nothing else while it reconciles, so the set cannot grow meanwhile.
      const keep = new Set(held.map((h) => h.block));
      const extra = (await this.redis.smembers(`${this.prefix}:owner:${owner}`))
        .map(Number)
        .filter((block) => !keep.has(block));
      const answers = await pipelined(chunks(extra, RECONCILE_BATCH_BLOCKS), (batch) =>
        this.fcall('xlat64_pool_release_many', owner, nowMs, JSON.stringify(batch)),
      );
      let released = 0;
      for (const answer of answers) {
        const n = Number(answer);
        if (n < 0) throw notSetUp(n);
        released += n;
      }
      annotateSpan({
        'xlat64.pool.claimed': claimed,
        'xlat64.pool.released': released,
        'xlat64.pool.conflicts': conflicts.length,
      });
      return { claimed, released, conflicts };
    });
  }

  /**
   * Before a new owner serves a shard: every block of `held` must be this owner's in Redis, or another
   * owner could lease it while this one serves it. Asks SMISMEMBER of the owner's set (in C, pipelined
   * batches) and claims only the blocks missing from it (Redis lost writes, or never had them). The
   * subscriber fields and the release of blocks the log does not list can follow after serving starts
   * (`reconcile`): they never give a block to two owners. Returns how many were missing, claimed, and the
   * conflicts (a missing block another owner holds).
   */
  async claimMissing(
    owner: string,
    held: readonly HeldBlock[],
  ): Promise<{ missing: number; claimed: number; conflicts: number[] }> {
    const attributes = { 'xlat64.owner': owner, 'xlat64.pool.held_blocks': held.length };
    return traced(controlPlaneTracer(), 'pool.claim.redis', attributes, async () => {
      const key = `${this.prefix}:owner:${owner}`;
      const batches = chunks(held, MEMBERSHIP_BATCH_BLOCKS);
      const answers = await pipelined(
        batches,
        (batch) =>
          this.redis.call('SMISMEMBER', key, ...batch.map((h) => String(h.block))) as Promise<number[]>,
      );
      const missing: HeldBlock[] = [];
      answers.forEach((flags, b) => {
        const batch = batches[b];
        for (let i = 0; i < batch.length; i++) if (Number(flags[i]) !== 1) missing.push(batch[i]);
      });
      const { claimed, conflicts } =
        missing.length === 0 ? { claimed: 0, conflicts: [] } : await this.claim(owner, missing);
      annotateSpan({
        'xlat64.pool.missing': missing.length,
        'xlat64.pool.claimed': claimed,
        'xlat64.pool.conflicts': conflicts.length,
      });
      return { missing: missing.length, claimed, conflicts };
    });
  }

  /** The former reconcile: the whole state in one script (the takeover bench's baseline). */
  async reconcileInOneScript(
    owner: string,
    held: readonly HeldBlock[],
    nowMs: number,
  ): Promise<{ claimed: number; released: number; conflicts: number[] }> {
    const list = held.map((h) => [h.block, h.subscriber, h.slot, h.addressIndex]);
    const result = (await this.fcall('xlat64_pool_reconcile', owner, nowMs, JSON.stringify(list))) as
      | number[]
      | number;
    if (typeof result === 'number') throw notSetUp(result);
    const [claimed, released, ...conflicts] = result.map(Number);
    return { claimed, released, conflicts };
  }

  /** `held` claimed for `owner` in pipelined batches (xlat64_pool_claim). */
  private async claim(
    owner: string,
    held: readonly HeldBlock[],
  ): Promise<{ claimed: number; conflicts: number[] }> {
    const answers = await pipelined(chunks(held, RECONCILE_BATCH_BLOCKS), (batch) =>
      this.fcall(
        'xlat64_pool_claim',
        owner,
        JSON.stringify(batch.map((h) => [h.block, h.subscriber, h.slot, h.addressIndex])),
      ),
    );
    let claimed = 0;
    const conflicts: number[] = [];
    for (const answer of answers) {
      if (typeof answer === 'number') throw notSetUp(answer);
      const [n, ...blocks] = (answer as unknown[]).map(Number);
      claimed += n;
      conflicts.push(...blocks);
    }
    return { claimed, conflicts };
  }

  /** Blocks Redis says `owner` holds, with their subscribers (inspection and tests). */
  async leasesOf(owner: string): Promise<Map<number, string>> {
    const blocks = (await this.redis.smembers(`${this.prefix}:owner:${owner}`)).map(Number);
    const out = new Map<number, string>();
    if (blocks.length === 0) return out;
    const values = await this.redis.hmget(`${this.prefix}:lease`, ...blocks.map(String));
    blocks.forEach((block, i) => {
      const v = values[i];
      if (v !== null) out.set(block, v.split('|')[1]);
    });
    return out;
  }

  private fcall(name: string, ...args: (string | number)[]): Promise<unknown> {
    return this.redis.call('FCALL', name, 1, this.prefix, ...args.map(String));
  }
}

/** Blocks per reconcile call: one script stays short (a few milliseconds) so other nodes' leases interleave. */
const RECONCILE_BATCH_BLOCKS = 1024;
/** Blocks per SMISMEMBER call. */
const MEMBERSHIP_BATCH_BLOCKS = 8192;

/**
 * Batches in flight at once: enough to keep the connection busy, few enough that the last one sent is
 * answered well within the per-command timeout (each waits for the ones before it in Redis).
 */
const PIPELINE_WINDOW = 4;

/** `call` on every batch, PIPELINE_WINDOW at a time; the answers in batch order. */
async function pipelined<T, R>(batches: readonly T[], call: (batch: T) => Promise<R>): Promise<R[]> {
  const answers: R[] = [];
  for (let i = 0; i < batches.length; i += PIPELINE_WINDOW)
    answers.push(...(await Promise.all(batches.slice(i, i + PIPELINE_WINDOW).map(call))));
  return answers;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function notSetUp(code: number): Error {
  return new StateError('XLAT64_ERR_POOL_UNAVAILABLE', `pool function answered ${code}: not set up`);
}

export interface RedisPoolAllocatorOptions {
  /**
   * The lease owner in Redis: the shard (e.g. `shard-17`), not the node, so that a node taking a shard
   * over inherits its blocks (its first reconcile claims what the replayed state holds).
   */
  owner: string;
  /** Blocks per protocol kept for new subscribers on any address (default 4). */
  reserveBlocks?: number;
  /** Blocks per protocol kept on each address this node's subscribers use (paired pooling; default 1). */
  reservePerAddress?: number;
  /** Background loop period (default 100 ms); a miss or a release also wakes it. */
  refillIntervalMs?: number;
  /** What the node holds according to its event log, for reconcile after Redis lost data. */
  heldBlocks: () => HeldBlock[];
  /** The clock for hold-down times (default Date.now). */
  nowMs?: () => number;
}

type PendingOp =
  | { kind: 'assign'; block: number; subscriber: string }
  | { kind: 'release'; block: number; nowMs: number };

export interface RedisPoolCounters {
  /** tryLease answered from the reserve. */
  reserveHits: number;
  /** tryLease found no reserve block for the protocol/address (pool exhausted there, or a block pending). */
  reserveMisses: number;
  /** Redis calls that failed (down, timeout); the loop retries. */
  redisErrors: number;
  /** Reconciles run after a reconnect, blocks claimed by them, and conflicts (a block another owner has). */
  reconciles: number;
  reconcileClaimed: number;
  reconcileConflicts: number;
  /** Assign/release answered with a refusal (limit, pairing, not owner): the engine and Redis disagreed. */
  refusedOps: number;
  /** Reserve blocks found already in the engine state (dropped from the reserve). */
  staleReserveBlocks: number;
}

/**
 * PoolAllocator over Redis with a node-side reserve. `tryLease` never waits: it hands out a reserve
 * block (on the subscriber's address when it has one) and queues the assignment; a background loop
 * writes assignments and releases in order and tops the reserve up. While Redis is down the reserve
 * keeps serving and the queue waits; on reconnect the loop re-loads the functions, re-creates the pool
 * if it is gone and reconciles this node's blocks from the event log before it leases again.
 */
export class RedisPoolAllocator implements PoolAllocator {
  /** reserve[slot] : address index -> block ids leased to this node and not yet given to a subscriber. */
  private readonly reserve: Map<number, number[]>[] = [new Map(), new Map(), new Map()];
  private readonly reserveCount = [0, 0, 0];
  /** (slot, address) pairs this node's subscribers use or asked for: the reserve keeps a block on each. */
  private readonly wanted: Set<number>[] = [new Set(), new Set(), new Set()];
  private readonly queue: PendingOp[] = [];
  private readonly reserveBlocks: number;
  private readonly reservePerAddress: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private ready = false;
  /** The full reconcile is due (after claimMissing at start or after an outage). */
  private reconcilePending = false;
  /** In start(): the full reconcile waits until start() has returned. */
  private starting = false;
  private stopped = false;
  readonly counters: RedisPoolCounters = {
    reserveHits: 0,
    reserveMisses: 0,
    redisErrors: 0,
    reconciles: 0,
    reconcileClaimed: 0,
    reconcileConflicts: 0,
    refusedOps: 0,
    staleReserveBlocks: 0,
  };
  /** Last Redis error, for status output. */
  lastError: Error | undefined;

  constructor(
    private readonly store: RedisPoolStore,
    private readonly state: NatState,
    private readonly options: RedisPoolAllocatorOptions,
  ) {
    this.reserveBlocks = options.reserveBlocks ?? 4;
    this.reservePerAddress = options.reservePerAddress ?? 1;
    this.now = options.nowMs ?? Date.now;
    assert.ok(this.reserveBlocks >= 1 && this.reservePerAddress >= 0);
    store.redis.on('ready', () => this.kick());
  }

  /**
   * Sets up the pool, makes sure Redis gives this owner every block its state holds (claimMissing) and
   * fills the reserve; resolves even when Redis is down (the loop retries). The rest of the reconcile
   * (subscriber fields, releasing blocks the state no longer holds) runs right after, in the background:
   * a takeover serves without waiting for it.
   */
  async start(): Promise<void> {
    this.starting = true;
    try {
      await this.pump();
    } finally {
      this.starting = false;
    }
    this.kick();
    this.timer = setInterval(() => this.kick(), this.options.refillIntervalMs ?? 100);
    this.timer.unref();
  }

  /** Stops the loop after the queued writes it can make; the reserve stays leased to this node. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 5));
  }

  /** True when the last Redis call succeeded. */
  get available(): boolean {
    return this.ready;
  }

  get reserveSize(): number {
    return this.reserveCount[0] + this.reserveCount[1] + this.reserveCount[2];
  }

  get pendingWrites(): number {
    return this.queue.length;
  }

  /** Resolves when every queued write has reached Redis and the reserve is full (tests, shutdown). */
  async settle(timeoutMs = 10_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (
        this.ready &&
        !this.reconcilePending &&
        this.queue.length === 0 &&
        !this.running &&
        this.reserveFull()
      )
        return true;
      this.kick();
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  }

  tryLease(subscriber: Uint32Array, slot: number, preferredAddressIndex: number, _nowMs: number): number {
    const bySlot = this.reserve[slot];
    let list: number[] | undefined;
    if (preferredAddressIndex >= 0) {
      list = bySlot.get(preferredAddressIndex);
      if (list === undefined || list.length === 0) {
        this.wanted[slot].add(preferredAddressIndex);
        return this.miss(this.noBlockOn[slot].has(preferredAddressIndex));
      }
    } else {
      for (const candidate of bySlot.values()) {
        if (candidate.length > 0) {
          list = candidate;
          break;
        }
      }
      if (list === undefined) return this.miss(this.exhausted[slot]);
    }
    while (list.length > 0) {
      const block = list.pop() as number;
      this.reserveCount[slot]--;
      if (this.state.blockOwner[block] !== -1) {
        // The engine state holds it already (a takeover replayed it): the next reconcile sorts Redis out.
        this.counters.staleReserveBlocks++;
        continue;
      }
      this.wanted[slot].add(this.state.blockAddressIndexOf(block));
      this.queue.push({ kind: 'assign', block, subscriber: subscriberKey(subscriber) });
      this.counters.reserveHits++;
      this.kick();
      return block;
    }
    return this.miss(this.exhausted[slot]);
  }

  /**
   * No reserve block: -1 (pool exhausted, the packet gets the ICMP reply) when Redis said the last time
   * it was asked that it has none to give there, else POOL_PENDING (the refill this kicks brings one; the
   * packet is dropped quietly and its retransmission served).
   */
  private miss(exhausted: boolean): number {
    this.counters.reserveMisses++;
    this.kick();
    return exhausted ? -1 : POOL_PENDING;
  }

  released(block: number, nowMs: number): void {
    this.queue.push({ kind: 'release', block, nowMs });
    this.kick();
  }

  private reserveFull(): boolean {
    for (let slot = 0; slot < 3; slot++) {
      if (this.reserveCount[slot] < this.reserveBlocks && !this.exhausted[slot]) return false;
    }
    return true;
  }

  /** Slots where the last refill found the pool empty (so settle() does not wait for the impossible). */
  private readonly exhausted = [false, false, false];
  /** Per slot: addresses on which Redis had no free block at the last refill (paired pooling misses there are real). */
  private readonly noBlockOn: Set<number>[] = [new Set(), new Set(), new Set()];

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      do {
        this.again = false;
        await this.step();
      } while (this.again && !this.stopped);
    } catch (error) {
      this.ready = false;
      this.lastError = error as Error;
      this.counters.redisErrors++;
    } finally {
      this.running = false;
    }
  }

  private async step(): Promise<void> {
    const store = this.store;
    const owner = this.options.owner;
    if (!this.ready) {
      await store.load();
      await store.setup();
      // Before the engine serves (a takeover) or leases again (after an outage): every block the event
      // log says this owner holds is this owner's in Redis, so no other owner can lease one of them. Only
      // the blocks missing from the owner's set are claimed; the rest of the reconcile follows.
      const claimed = await store.claimMissing(owner, this.options.heldBlocks());
      this.counters.reconcileClaimed += claimed.claimed;
      this.counters.reconcileConflicts += claimed.conflicts.length;
      this.ready = true;
      this.reconcilePending = true;
    }
    if (this.reconcilePending && !this.starting) {
      // Reconcile at start (a takeover inherits the shard's blocks) and after every outage, not only
      // after 'created': an AOF fsynced each second can also have lost the last writes. The event log
      // (engine state) plus the reserve is what this owner holds; subscribers are corrected and what it
      // no longer holds is released. The writes queued before `held` was read are in it: dropped.
      const held = this.options.heldBlocks();
      const queuedBefore = this.queue.length;
      for (let slot = 0; slot < 3; slot++) {
        for (const [addressIndex, list] of this.reserve[slot]) {
          for (const block of list) held.push({ block, subscriber: '', slot, addressIndex });
        }
      }
      const result = await store.reconcile(owner, held, this.now());
      this.counters.reconciles++;
      this.counters.reconcileClaimed += result.claimed;
      this.counters.reconcileConflicts += result.conflicts.length;
      this.queue.splice(0, queuedBefore);
      this.reconcilePending = false;
    }
    while (this.queue.length > 0) {
      const op = this.queue[0];
      const result =
        op.kind === 'assign'
          ? await store.assign(owner, op.block, op.subscriber)
          : await store.release(owner, op.block, op.nowMs);
      if (result === PoolRefusal.notSetUp) {
        this.ready = false;
        this.again = true;
        return;
      }
      if (result < 0) this.counters.refusedOps++;
      this.queue.shift();
    }
    await this.refill();
  }

  private async refill(): Promise<void> {
    const owner = this.options.owner;
    for (let slot = 0; slot < 3; slot++) {
      if (this.state.config.protocols[slot].blocksPerAddress === 0) {
        this.exhausted[slot] = true;
        continue;
      }
      for (const address of this.wanted[slot]) {
        let list = this.reserve[slot].get(address);
        while ((list?.length ?? 0) < this.reservePerAddress) {
          const block = await this.store.lease(owner, '', slot, address, this.now());
          if (block === PoolRefusal.notSetUp) return this.lostSetup();
          if (block < 0) {
            this.noBlockOn[slot].add(address);
            break;
          }
          this.noBlockOn[slot].delete(address);
          list = this.add(slot, block);
        }
      }
      this.exhausted[slot] = false;
      while (this.reserveCount[slot] < this.reserveBlocks) {
        const block = await this.store.lease(owner, '', slot, -1, this.now());
        if (block === PoolRefusal.notSetUp) return this.lostSetup();
        if (block < 0) {
          this.exhausted[slot] = true;
          break;
        }
        this.add(slot, block);
      }
    }
  }

  private lostSetup(): void {
    this.ready = false;
    this.again = true;
  }

  private add(slot: number, block: number): number[] {
    const address = this.state.blockAddressIndexOf(block);
    let list = this.reserve[slot].get(address);
    if (list === undefined) {
      list = [];
      this.reserve[slot].set(address, list);
    }
    list.push(block);
    this.reserveCount[slot]++;
    // Paired pooling puts all of a subscriber's blocks on one address: a reserve block of one protocol
    // on an address wants one of every protocol there, or a new subscriber's second protocol (its TCP
    // SYN right after its first UDP datagram) would miss the reserve and get the pool-exhausted reply.
    for (let s = 0; s < 3; s++) this.wanted[s].add(address);
    return list;
  }
}
