// The `state` option of `xlat64 plat` (cluster mode, services/state): where the shards' event log,
// ownership records and pool leases live. Written as one string, `nats://HOST:PORT[,…],redis://HOST:PORT`
// (the --state flag), or as a mapping { nats, redis, nodeId, detectionMs, pool }. Absent: embedded mode.
import { hostname } from 'node:os';
import { configError, type RawConfig } from '../../../libs/dataplane/src/index.js';
import { isStateError, parseNatsUrls } from '../../state/src/index.js';

export interface PlatStateConfig {
  /** NATS server URL list (nats:// or tls://, comma-separated). */
  nats: string;
  /** One Redis URL (redis:// or rediss://). */
  redis: string;
  /** This node's name in the ownership records (default host-pid: unique per process). */
  nodeId: string;
  /** A shard's owner not renewing for this long is taken over by a standby. */
  detectionMs: number;
  /** The Redis pool name (every node of a cluster uses the same). */
  pool: string;
}

const STATE_KEYS = ['nats', 'redis', 'nodeId', 'detectionMs', 'pool'];
const FIX = 'write state: nats://HOST:4222,redis://HOST:6379 (or a mapping with nats and redis)';

export function parsePlatStateConfig(raw: unknown): PlatStateConfig | undefined {
  if (raw === undefined) return undefined;
  let fields: RawConfig;
  if (typeof raw === 'string') {
    const nats: string[] = [];
    const redis: string[] = [];
    for (const part of raw.split(',')) {
      const text = part.trim();
      if (/^(nats|tls):\/\//.test(text)) nats.push(text);
      else if (/^rediss?:\/\//.test(text)) redis.push(text);
      else throw configError('state', `'${text}' is neither a nats:// (tls://) nor a redis:// URL; ${FIX}`);
    }
    if (redis.length > 1) throw configError('state', `give one redis:// URL, not ${redis.length}`);
    fields = { nats: nats.length > 0 ? nats.join(',') : undefined, redis: redis[0] };
  } else if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    fields = raw as RawConfig;
    for (const key of Object.keys(fields))
      if (!STATE_KEYS.includes(key))
        throw configError(`state.${key}`, `unknown option; valid options: ${STATE_KEYS.join(', ')}`);
  } else {
    throw configError('state', FIX);
  }
  const nats = fields.nats;
  if (typeof nats !== 'string' || nats === '')
    throw configError('state.nats', `a NATS URL is required; ${FIX}`);
  try {
    parseNatsUrls(nats);
  } catch (error) {
    if (isStateError(error)) throw configError('state.nats', error.message);
    throw error;
  }
  const redis = fields.redis;
  if (typeof redis !== 'string' || redis === '')
    throw configError('state.redis', `a Redis URL is required (pool leases); ${FIX}`);
  let parsed: URL | null = null;
  try {
    parsed = new URL(redis);
  } catch {}
  if (
    parsed === null ||
    (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') ||
    parsed.hostname === ''
  )
    throw configError('state.redis', `'${redis}' is not a redis:// or rediss:// URL with a host`);
  const nodeId = fields.nodeId ?? `${hostname()}-${process.pid}`;
  if (typeof nodeId !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(nodeId))
    throw configError('state.nodeId', `'${String(nodeId)}' must be 1-64 letters, digits, '_', '.', '-'`);
  const detectionMs = fields.detectionMs ?? 1000;
  if (
    typeof detectionMs !== 'number' ||
    !Number.isInteger(detectionMs) ||
    detectionMs < 100 ||
    detectionMs > 60_000
  )
    throw configError('state.detectionMs', `${String(detectionMs)} must be an integer 100..60000 (ms)`);
  const pool = fields.pool ?? 'default';
  if (typeof pool !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(pool))
    throw configError('state.pool', `'${String(pool)}' must be 1-64 letters, digits, '_', '.', '-'`);
  return { nats, redis, nodeId, detectionMs, pool };
}
