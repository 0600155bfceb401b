// The compliance outbox of a running node (`xlat64 plat --compliance kafka://HOST:PORT/TOPIC`): the
// `compliance` configuration (refused at start naming the field), and the outbox over the node's
// workers' embedded logs (read by a tail, embedded-tail.ts), in the main thread so no Kafka I/O ever
// runs on a packet worker. The checkpoint sits next to the logs it positions; ids carry the node and
// worker layout, so another node or another worker count writing the same topic never repeats an id.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { configError, type RawConfig, refuseUnknownKeys } from '../../../../libs/dataplane/src/index.js';
import type { NatEngineConfig, NatEngineConfigInput } from '../../../nat-engine/src/index.js';
import { EmbeddedLogTail, type TailedLog } from './embedded-tail.js';
import type { ComplianceMessageFormat } from './message-format.js';
import { ComplianceOutbox, defaultOutboxOptions, type OutboxStatus } from './outbox.js';
import { type ComplianceMode, defaultDeriverOptions, type TenantOf } from './records.js';
import { eventLogSource } from './source.js';

export interface ComplianceConfig {
  /** Kafka bootstrap servers, `host:port` (or `[v6]:port`). */
  brokers: string[];
  topic: string;
  mode: ComplianceMode;
  logDestinations: boolean;
  /** Interval of block-held restatements (the lookup's `--held-interval`). */
  heldIntervalMs: number;
  /** Put in every record id: the node's name (default: the host name). */
  node: string;
  /** Message format (message-format.ts): `packed` (format 2, default) or `single` (format 1). */
  format: ComplianceMessageFormat;
  /** Producer compression: `gzip` (default) or `none`. */
  compression: 'none' | 'gzip';
}

export const complianceConfigKeys = [
  'url',
  'mode',
  'logDestinations',
  'heldIntervalMs',
  'node',
  'format',
  'compression',
] as const;

const URL_HINT = 'use kafka://HOST:PORT[,HOST:PORT...]/TOPIC, e.g. kafka://192.0.2.10:9092/xlat64-compliance';

/**
 * `compliance` as written in the configuration: a URL `kafka://HOST:PORT[,HOST:PORT]/TOPIC` (the flag's
 * form), or a mapping `{ url, mode, logDestinations, heldIntervalMs, node, format, compression }`.
 * Undefined when absent.
 */
export function parseComplianceConfig(value: unknown, field = 'compliance'): ComplianceConfig | undefined {
  if (value === undefined || value === null) return undefined;
  let raw: RawConfig;
  if (typeof value === 'string') raw = { url: value };
  else if (typeof value === 'object' && !Array.isArray(value)) {
    raw = value as RawConfig;
    refuseUnknownKeys(raw, complianceConfigKeys, `${field}.`);
  } else throw configError(field, `expected a URL or a mapping with url; ${URL_HINT}`);
  const url = raw.url;
  if (typeof url !== 'string') throw configError(`${field}.url`, `is required; ${URL_HINT}`);
  const match = /^kafka:\/\/([^/]+)\/([^/]*)$/.exec(url);
  if (match === null) throw configError(field, `'${url}' is not a Kafka URL; ${URL_HINT}`);
  const brokers = match[1].split(',');
  for (const broker of brokers) {
    const hostPort = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(broker);
    const port = hostPort === null ? 0 : Number(hostPort[2]);
    if (hostPort === null || port < 1 || port > 65535) {
      throw configError(field, `broker '${broker}' in '${url}' is not HOST:PORT (port 1-65535); ${URL_HINT}`);
    }
  }
  const topic = match[2] === '' ? defaultOutboxOptions.topic : match[2];
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(topic)) {
    throw configError(
      field,
      `topic '${topic}' in '${url}' is not a Kafka topic name; use letters, digits, '.', '_', '-'`,
    );
  }
  const mode = raw.mode ?? 'block';
  if (mode !== 'block' && mode !== 'session') {
    throw configError(
      `${field}.mode`,
      `'${String(mode)}' is not a compliance mode; use 'block' (default) or 'session'`,
    );
  }
  const logDestinations = raw.logDestinations ?? false;
  if (typeof logDestinations !== 'boolean')
    throw configError(
      `${field}.logDestinations`,
      'expected true or false (RFC 6888 REQ-12: false unless required)',
    );
  if (logDestinations && mode !== 'session')
    throw configError(
      `${field}.logDestinations`,
      "destinations are logged per session: set mode: 'session' too",
    );
  const heldIntervalMs = raw.heldIntervalMs ?? defaultDeriverOptions.heldIntervalMs;
  if (typeof heldIntervalMs !== 'number' || !Number.isInteger(heldIntervalMs) || heldIntervalMs < 1000)
    throw configError(
      `${field}.heldIntervalMs`,
      `${JSON.stringify(heldIntervalMs)} is not an integer >= 1000 (default 3600000)`,
    );
  const node = raw.node ?? hostname();
  if (typeof node !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(node))
    throw configError(
      `${field}.node`,
      `${JSON.stringify(node)} is not a node name; use 1-64 letters, digits, '.', '_', '-'`,
    );
  const format = raw.format ?? defaultOutboxOptions.format;
  if (format !== 'packed' && format !== 'single')
    throw configError(
      `${field}.format`,
      `'${String(format)}' is not a message format; use 'packed' (default: several records per message) or 'single' (one per message, as builds before packing wrote)`,
    );
  const compression = raw.compression ?? defaultOutboxOptions.compression;
  if (compression !== 'none' && compression !== 'gzip')
    throw configError(
      `${field}.compression`,
      `'${String(compression)}' is not supported; use 'gzip' (default) or 'none'`,
    );
  return { brokers, topic, mode, logDestinations, heldIntervalMs, node, format, compression };
}

export interface NodeComplianceOptions {
  config: ComplianceConfig;
  /** Each worker's log: shard (= worker index) and directory. */
  logs: readonly TailedLog[];
  /** Where the checkpoint is kept (the directory of the worker layout). */
  checkpointDirectory: string;
  /** Put after the node name in ids: distinguishes worker layouts sharing one state directory. */
  layoutTag: string;
  engine: NatEngineConfig;
  /** The NAT configuration, logged to `<topic>-config` (RFC 7422 evidence) when it changed. */
  natConfiguration: NatEngineConfigInput;
  /** The node's tenant table (names and subscriber lengths in the records); absent without tenants. */
  tenantOf?: TenantOf;
  /** Overrides for tests (intervals). */
  tuning?: { pollIntervalMs?: number; retryIntervalMs?: number; connectionTimeoutMs?: number };
}

export interface NodeCompliance {
  status(): OutboxStatus & { topic: string; brokers: string[] };
  /** Sends what the logs hold now, for up to `drainMs` while Kafka answers, then stops. */
  stop(drainMs: number): Promise<void>;
}

export async function startNodeCompliance(options: NodeComplianceOptions): Promise<NodeCompliance> {
  const { config, engine } = options;
  const tail = new EmbeddedLogTail(options.logs);
  const source = eventLogSource(
    tail,
    options.logs.map((l) => l.shard),
  );
  const outbox = new ComplianceOutbox(source, {
    ...defaultOutboxOptions,
    kafka: {
      brokers: config.brokers,
      clientId: `xlat64-plat-${config.node}`,
      connectionTimeoutMs: options.tuning?.connectionTimeoutMs ?? 3000,
    },
    topic: config.topic,
    format: config.format,
    compression: config.compression,
    checkpointPath: join(options.checkpointDirectory, `compliance-${config.topic}.checkpoint`),
    deriver: {
      mode: config.mode,
      logDestinations: config.logDestinations,
      blockSizePorts: engine.blockSizePorts,
      subscriberPrefixLength: engine.subscriberPrefixLength,
      heldIntervalMs: config.heldIntervalMs,
      deterministic: engine.deterministic,
      idPrefix: `${config.node}/${options.layoutTag}`,
      tenantOf: options.tenantOf,
    },
    pollIntervalMs: options.tuning?.pollIntervalMs ?? defaultOutboxOptions.pollIntervalMs,
    retryIntervalMs: options.tuning?.retryIntervalMs ?? defaultOutboxOptions.retryIntervalMs,
    configuration: { nat: options.natConfiguration, fromMs: Date.now() },
  });
  await outbox.start();
  return {
    status: () => ({ ...outbox.status(), topic: config.topic, brokers: config.brokers }),
    async stop(drainMs) {
      if (outbox.status().state === 'running') await outbox.drain(drainMs).catch(() => undefined);
      await outbox.stop();
    },
  };
}
