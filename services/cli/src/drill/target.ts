// The drill's target description: the cluster's nodes (how to find, query and start each one again)
// and the lab around them (client namespace and subscriber addresses, the server, NATS, Redis).
// Format 1, JSON; every field is checked and a bad file is refused naming the field and the fix.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { DrillTargetError } from '../errors.js';

export interface DrillNode {
  readonly id: string;
  /** Network namespace the node runs in ('' = the namespace the drill runs in). */
  readonly netns: string;
  readonly pidFile: string;
  readonly statusSocket: string;
  /** argv that starts the node again (run inside `netns`). */
  readonly command: readonly string[];
  /** Where a restarted node's output goes (default: `<pidFile>.drill.log`). */
  readonly logFile: string;
}

export interface DrillService {
  readonly url: string;
  readonly pidFile: string;
}

export interface DrillTarget {
  readonly format: 1;
  readonly nodes: readonly DrillNode[];
  readonly client: { readonly netns: string; readonly subscribers: readonly string[] };
  readonly server: { readonly netns: string; readonly ipv4: string; readonly ipv6: string };
  readonly nats: readonly DrillService[];
  readonly redis: DrillService | null;
}

export const targetFormat = 1;

/** Reads and validates a target file. */
export function loadTarget(path: string): DrillTarget {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new DrillTargetError(`${path}: cannot read the target file (${(error as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new DrillTargetError(`${path}: not JSON (${(error as Error).message}); see 'xlat64 drill --help'`);
  }
  return parseTarget(raw, path);
}

type Raw = Record<string, unknown>;

/** Validates a parsed target document; `source` names it in the errors. */
export function parseTarget(raw: unknown, source: string): DrillTarget {
  const fail = (field: string, what: string): never => {
    throw new DrillTargetError(`${source}: ${field} ${what}`);
  };
  const object = (value: unknown, field: string): Raw => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object');
    return value as Raw;
  };
  const known = (value: Raw, field: string, keys: readonly string[]): void => {
    for (const key of Object.keys(value)) {
      if (!keys.includes(key))
        fail(`${field}.${key}`.replace(/^\./, ''), `is not a known field (known: ${keys.join(', ')})`);
    }
  };
  const text = (value: unknown, field: string, allowEmpty = false): string => {
    if (typeof value !== 'string' || (!allowEmpty && value === '')) fail(field, 'must be a non-empty string');
    return value as string;
  };
  const address = (value: unknown, field: string, family: 4 | 6): string => {
    const s = text(value, field);
    if (family === 4 ? !isIPv4(s) : !isIPv6(s)) fail(field, `must be an IPv${family} address, not '${s}'`);
    return s;
  };
  const url = (value: unknown, field: string, schemes: readonly string[]): string => {
    const s = text(value, field);
    let parsed: URL;
    try {
      parsed = new URL(s);
    } catch {
      return fail(
        field,
        `must be a URL such as ${schemes[0]}://127.0.0.1:${schemes[0] === 'nats' ? 4222 : 6379}, not '${s}'`,
      );
    }
    if (!schemes.includes(parsed.protocol.replace(/:$/, '')) || parsed.hostname === '')
      fail(field, `must be a ${schemes.join(' or ')} URL with a host, not '${s}'`);
    return s;
  };

  const doc = object(raw, 'the document');
  // `mode`, `router`, `pref64` and `pool4` (and a node's `birdSocket`, `uplink`) are written by the cluster
  // lab for its own tools; read, not used.
  known(doc, '', [
    'format',
    'mode',
    'nodes',
    'client',
    'server',
    'nats',
    'redis',
    'router',
    'pref64',
    'pool4',
  ]);
  if (doc.format !== targetFormat)
    fail('format', `must be ${targetFormat} (this xlat64 reads format ${targetFormat})`);

  if (!Array.isArray(doc.nodes) || doc.nodes.length === 0)
    fail('nodes', 'must be a non-empty array of nodes');
  const nodes = (doc.nodes as unknown[]).map((entry, i): DrillNode => {
    const field = `nodes[${i}]`;
    const node = object(entry, field);
    known(node, field, [
      'id',
      'netns',
      'pidFile',
      'statusSocket',
      'command',
      'logFile',
      'birdSocket',
      'uplink',
    ]);
    const command = node.command;
    if (!Array.isArray(command) || command.length === 0 || command.some((a) => typeof a !== 'string'))
      fail(`${field}.command`, 'must be a non-empty array of strings (the argv that starts the node again)');
    const pidFile = text(node.pidFile, `${field}.pidFile`);
    return {
      id: text(node.id, `${field}.id`),
      netns: node.netns === undefined ? '' : text(node.netns, `${field}.netns`, true),
      pidFile,
      statusSocket: text(node.statusSocket, `${field}.statusSocket`),
      command: command as string[],
      logFile: node.logFile === undefined ? `${pidFile}.drill.log` : text(node.logFile, `${field}.logFile`),
    };
  });
  const ids = new Set<string>();
  for (const [i, node] of nodes.entries()) {
    if (ids.has(node.id)) fail(`nodes[${i}].id`, `'${node.id}' is used twice; give each node its own id`);
    ids.add(node.id);
  }

  const client = object(doc.client, 'client');
  known(client, 'client', ['netns', 'subscribers']);
  if (!Array.isArray(client.subscribers) || client.subscribers.length === 0)
    fail('client.subscribers', "must be a non-empty array of the client namespace's IPv6 addresses");
  const subscribers = (client.subscribers as unknown[]).map((s, i) =>
    address(s, `client.subscribers[${i}]`, 6),
  );

  const server = object(doc.server, 'server');
  known(server, 'server', ['netns', 'ipv4', 'ipv6']);
  const ipv4 = address(server.ipv4, 'server.ipv4', 4);
  const ipv6 = address(server.ipv6, 'server.ipv6', 6);

  const service = (value: unknown, field: string, scheme: string): DrillService => {
    const entry = object(value, field);
    known(entry, field, ['url', 'pidFile']);
    return {
      url: url(entry.url, `${field}.url`, [scheme]),
      pidFile: text(entry.pidFile, `${field}.pidFile`),
    };
  };
  if (doc.nats !== undefined && !Array.isArray(doc.nats))
    fail('nats', 'must be an array of { url, pidFile }');
  const nats = ((doc.nats as unknown[] | undefined) ?? []).map((n, i) => service(n, `nats[${i}]`, 'nats'));
  const redis = doc.redis === undefined ? null : service(doc.redis, 'redis', 'redis');

  const target: DrillTarget = {
    format: targetFormat,
    nodes,
    client: { netns: text(client.netns, 'client.netns', true), subscribers },
    server: { netns: text(server.netns, 'server.netns', true), ipv4, ipv6 },
    nats,
    redis,
  };
  assert.ok(target.nodes.length > 0 && target.client.subscribers.length > 0);
  return target;
}

/** The node named by `--node`: an id from the file, or `serving` (resolved by the caller). */
export function findNode(target: DrillTarget, id: string): DrillNode {
  const node = target.nodes.find((n) => n.id === id);
  if (node === undefined) {
    throw new DrillTargetError(
      `--node ${id}: no such node in the target (nodes: ${target.nodes.map((n) => n.id).join(', ')}, or 'serving')`,
    );
  }
  return node;
}
