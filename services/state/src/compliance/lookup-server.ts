// The lookup service an exchange exposes to its ISPs (`xlat64 lookup --serve`): HTTP
// `GET /lookup?address=&port=&proto=&at=&skew=` with `Authorization: Bearer <token>`. The credentials
// map the SHA-256 of each token (never the token) to a tenant, or to `*` for the exchange's operator; a
// tenant's token only ever gets that tenant's holders (LookupQuery.tenant: the others are not even
// counted), the operator's gets the whole answer. One audit line per query: who, what, how many holders.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configError, type RawConfig, refuseUnknownKeys } from '../../../../libs/dataplane/src/index.js';
import type { LookupQuery } from './holders.js';
import type { LookupResult } from './lookup.js';
import type { ProtocolName } from './records.js';

/** The operator's tenant in a credential: every holder, with what was scanned. */
export const OPERATOR = '*';

export interface LookupCredential {
  /** Lower-case hex SHA-256 of the token. */
  sha256: string;
  /** The tenant whose records the token may read, or `*` (the operator: all of them). */
  tenant: string;
  /** A label for the audit lines (e.g. the ISP's NOC); default the tenant. */
  name: string;
}

export const lookupCredentialKeys = ['sha256', 'tenant', 'name'] as const;
const TENANT = /^([a-z0-9][a-z0-9_-]{0,62}|\*)$/;
const HASH_HINT = 'the SHA-256 of the token in hex: printf \'%s\' "$TOKEN" | sha256sum';

/**
 * `credentials:` of a credentials file (YAML/JSON): a list of `{ sha256, tenant, name? }`. Refuses,
 * naming the field (`credentials[1].sha256`), what is not a hex SHA-256, a tenant that is not a tenant
 * name or `*`, and a hash given twice.
 */
export function parseLookupCredentials(raw: unknown): LookupCredential[] {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw configError('credentials', 'expected a mapping with the key credentials: [{ sha256, tenant }]');
  refuseUnknownKeys(raw as RawConfig, ['credentials'], '');
  const list = (raw as RawConfig).credentials;
  if (!Array.isArray(list) || list.length === 0)
    throw configError(
      'credentials',
      `expected a list of { sha256, tenant, name }, e.g. [{ sha256: <${HASH_HINT}>, tenant: isp-a }]`,
    );
  const seen = new Set<string>();
  return list.map((entry, i): LookupCredential => {
    const where = `credentials[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      throw configError(where, 'expected a mapping { sha256, tenant, name }');
    const c = entry as RawConfig;
    refuseUnknownKeys(c, lookupCredentialKeys, `${where}.`);
    const sha256 = c.sha256;
    if (typeof sha256 !== 'string' || !/^[0-9a-fA-F]{64}$/.test(sha256))
      throw configError(`${where}.sha256`, `expected 64 hex digits, ${HASH_HINT}`);
    const hash = sha256.toLowerCase();
    if (seen.has(hash))
      throw configError(`${where}.sha256`, 'the same token is given twice; give each its own token');
    seen.add(hash);
    const tenant = c.tenant;
    if (typeof tenant !== 'string' || !TENANT.test(tenant))
      throw configError(
        `${where}.tenant`,
        `${JSON.stringify(tenant)} is not a tenant name (as in the PLAT's tenants:) nor '*' (the operator: every record)`,
      );
    const name = c.name ?? tenant;
    if (typeof name !== 'string' || !/^[A-Za-z0-9._@*-]{1,64}$/.test(name))
      throw configError(`${where}.name`, "expected 1-64 letters, digits, '.', '_', '@', '-'");
    return { sha256: hash, tenant, name };
  });
}

/** Lower-case hex SHA-256 of a token, as the credentials file stores it. */
export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface LookupServerOptions {
  credentials: readonly LookupCredential[];
  /** Answers one query (lookupInKafka with a shared client). */
  lookup: (query: LookupQuery) => Promise<LookupResult>;
  /** Audit and error lines. */
  log: (line: string) => void;
  /** Queries answered at once; more get 503 (default 8). */
  concurrentMax?: number;
  /** Largest skew a query may ask (default 1 day): bounds the scan one query can cause. */
  skewMaxMs?: number;
}

export interface LookupServer {
  readonly host: string;
  readonly port: number;
  /** Queries answered, refused (401), malformed (400), failed (500/503). */
  readonly counts: { answered: number; unauthorized: number; badRequest: number; failed: number };
  close(): Promise<void>;
}

class QueryError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the HTTP server on `host:port` (port 0: any free port). */
export async function startLookupServer(
  host: string,
  port: number,
  options: LookupServerOptions,
): Promise<LookupServer> {
  const byHash = new Map(options.credentials.map((c) => [c.sha256, c]));
  const concurrentMax = options.concurrentMax ?? 8;
  const skewMaxMs = options.skewMaxMs ?? 86_400_000;
  const counts = { answered: 0, unauthorized: 0, badRequest: 0, failed: 0 };
  let inFlight = 0;
  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(text);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const peer = `${req.socket.remoteAddress ?? '?'}`;
    const url = new URL(req.url ?? '/', 'http://lookup');
    if (url.pathname !== '/lookup') {
      send(res, 404, { error: 'not found; use GET /lookup?address=&port=&at=' });
      return;
    }
    if (req.method !== 'GET') {
      send(res, 405, { error: 'use GET' }, { allow: 'GET' });
      return;
    }
    const auth = req.headers.authorization ?? '';
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(auth);
    const credential = match === null ? undefined : byHash.get(tokenSha256(match[1]));
    if (credential === undefined) {
      counts.unauthorized++;
      options.log(`lookup: refused from ${peer}: ${match === null ? 'no bearer token' : 'unknown token'}`);
      send(res, 401, { error: 'unknown or missing token' }, { 'www-authenticate': 'Bearer' });
      return;
    }
    let query: LookupQuery;
    try {
      query = parseQuery(url.searchParams, skewMaxMs);
    } catch (error) {
      if (!(error instanceof QueryError)) throw error;
      counts.badRequest++;
      options.log(
        `lookup: ${credential.name} (tenant ${credential.tenant}) bad query ${url.search}: ${error.message}`,
      );
      send(res, 400, { error: error.message, field: error.field });
      return;
    }
    if (inFlight >= concurrentMax) {
      counts.failed++;
      send(res, 503, { error: 'busy; retry' }, { 'retry-after': '1' });
      return;
    }
    if (credential.tenant !== OPERATOR) query.tenant = credential.tenant;
    const what = `${query.address}:${query.port}${query.protocol === undefined ? '' : `/${query.protocol}`} at ${new Date(query.atMs).toISOString()} ± ${query.skewMs} ms`;
    inFlight++;
    try {
      const result = await options.lookup(query);
      counts.answered++;
      options.log(
        `lookup: ${credential.name} (tenant ${credential.tenant}) from ${peer}: ${what}: ${result.holders.length} holder(s)`,
      );
      // A tenant's answer is its holders only: nothing about what else the partition holds.
      send(
        res,
        200,
        credential.tenant === OPERATOR
          ? { tenant: OPERATOR, ...result }
          : { tenant: credential.tenant, query: result.query, holders: result.holders },
      );
    } catch (error) {
      counts.failed++;
      options.log(
        `lookup: ${credential.name} (tenant ${credential.tenant}) ${what}: failed: ${(error as Error).message}`,
      );
      send(res, 500, { error: 'the compliance log could not be read; retry' });
    } finally {
      inFlight--;
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      counts.failed++;
      options.log(`lookup: ${error.message}`);
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const PROTOCOLS: readonly ProtocolName[] = ['tcp', 'udp', 'icmp'];

/** The query's fields; a QueryError names the field that is wrong. */
function parseQuery(params: URLSearchParams, skewMaxMs: number): LookupQuery {
  for (const key of params.keys())
    if (!['address', 'port', 'proto', 'at', 'skew'].includes(key))
      throw new QueryError(key, `unknown parameter '${key}'; use address, port, proto, at, skew`);
  const address = params.get('address') ?? '';
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (octets === null || octets.slice(1).some((o) => Number(o) > 255))
    throw new QueryError('address', `'${address}' is not an IPv4 address such as 203.0.113.5`);
  const portText = params.get('port') ?? '';
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : -1;
  if (port < 0 || port > 65535) throw new QueryError('port', `'${portText}' is not a port 0-65535`);
  const proto = params.get('proto') ?? undefined;
  if (proto !== undefined && !PROTOCOLS.includes(proto as ProtocolName))
    throw new QueryError('proto', `'${proto}' is not tcp, udp or icmp`);
  const at = params.get('at') ?? '';
  let atMs = Number.NaN;
  if (/^\d{1,15}$/.test(at)) atMs = Number(at);
  else if (/(Z|[+-]\d\d:?\d\d)$/i.test(at)) atMs = Date.parse(at);
  if (Number.isNaN(atMs))
    throw new QueryError(
      'at',
      `'${at}' is not an ISO 8601 time with a zone (2026-11-30T10:15:02Z) nor milliseconds since the epoch`,
    );
  const skew = params.get('skew') ?? '2s';
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(skew);
  const skewMs =
    m === null
      ? Number.NaN
      : Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms']);
  if (Number.isNaN(skewMs) || skewMs > skewMaxMs)
    throw new QueryError(
      'skew',
      `'${skew}' is not a duration such as 500ms, 2s or 1m, at most ${skewMaxMs} ms`,
    );
  return { address, port, protocol: proto as ProtocolName | undefined, atMs, skewMs };
}
