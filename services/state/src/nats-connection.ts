// Connecting to the cluster's NATS servers (JetStream, KV, Object Store): one parser for the
// `nats://user:pass@host:port,…` URL notation the state layer accepts, credentials and TLS options,
// and a connection that keeps reconnecting forever (an outage buffers events; it must not end the
// client). Bad options are refused here, naming the field and the fix.
import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { StateError } from './errors.js';

export interface NatsStateOptions {
  /** One URL or a comma-separated list: nats://[user:pass@]host[:port] or tls://… for TLS. */
  url: string;
  /** Client name shown by the server's monitoring (default xlat64). */
  name?: string;
  /** Token authentication (instead of user:pass in the URL). */
  token?: string;
  /** A NATS credentials file (JWT + NKey seed), as `nsc` writes it. */
  credsFile?: string;
  /** TLS: CA bundle to verify the server, client certificate and key for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Delay between reconnect attempts (default 250 ms). */
  reconnectTimeWaitMs?: number;
}

export function parseNatsUrls(url: string): {
  servers: string[];
  user?: string;
  pass?: string;
  tls: boolean;
} {
  const servers: string[] = [];
  let user: string | undefined;
  let pass: string | undefined;
  let tls = false;
  for (const part of url.split(',')) {
    const text = part.trim();
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      throw new StateError(
        'XLAT64_ERR_STATE_CONFIG',
        `state NATS url "${text}" is not a URL — write nats://host:4222 (or tls://host:4222, nats://user:pass@host:4222)`,
      );
    }
    if (parsed.protocol !== 'nats:' && parsed.protocol !== 'tls:') {
      throw new StateError(
        'XLAT64_ERR_STATE_CONFIG',
        `state NATS url "${text}" has scheme ${parsed.protocol} — use nats:// or tls://`,
      );
    }
    if (parsed.protocol === 'tls:') tls = true;
    if (parsed.username !== '') {
      user = decodeURIComponent(parsed.username);
      pass = decodeURIComponent(parsed.password);
    }
    servers.push(
      `${parsed.hostname.includes(':') ? `[${parsed.hostname}]` : parsed.hostname}:${parsed.port || 4222}`,
    );
  }
  return { servers, user, pass, tls };
}

/** Connects with reconnects forever; the state layer decides what an outage means (buffer, "unreplicated"). */
export async function connectNats(options: NatsStateOptions): Promise<NatsConnection> {
  const { servers, user, pass, tls } = parseNatsUrls(options.url);
  const opts: NodeConnectionOptions = {
    servers,
    name: options.name ?? 'xlat64',
    maxReconnectAttempts: -1,
    reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
    reconnectJitter: 50,
    waitOnFirstConnect: false,
  };
  if (user !== undefined) {
    opts.user = user;
    opts.pass = pass;
  }
  if (options.token !== undefined) opts.token = options.token;
  if (options.credsFile !== undefined) {
    opts.authenticator = credsAuthenticator(readConfigFile('credsFile', options.credsFile));
  }
  if (tls || options.tls !== undefined) {
    const t = options.tls ?? {};
    opts.tls = {
      ...(t.caFile !== undefined ? { caFile: t.caFile } : {}),
      ...(t.certFile !== undefined ? { certFile: t.certFile } : {}),
      ...(t.keyFile !== undefined ? { keyFile: t.keyFile } : {}),
    };
  }
  try {
    return await connect(opts);
  } catch (error) {
    throw new StateError(
      'XLAT64_ERR_LOG_UNAVAILABLE',
      `cannot connect to NATS at ${servers.join(',')}: ${(error as Error).message} — check the state url, credentials and that the server runs with JetStream`,
      { cause: error },
    );
  }
}

function readConfigFile(field: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new StateError(
      'XLAT64_ERR_STATE_CONFIG',
      `state ${field} ${path} cannot be read (${(error as NodeJS.ErrnoException).code}) — give a readable file`,
      { cause: error },
    );
  }
}
