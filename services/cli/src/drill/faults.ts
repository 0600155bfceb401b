// The faults a drill injects and how each is undone: kill -9 or SIGTERM of a node (undone by starting
// it again from the target's command), a partition of the node from NATS and Redis or from its peers
// (nftables rules in the node's own namespace, removed afterwards), and a restart of the NATS servers.
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { readStatus } from '../../../../libs/dataplane/src/index.js';
import { DrillError, DrillTargetError } from '../errors.js';
import {
  alive,
  type ProcessImage,
  processImage,
  readPid,
  runIn,
  signalAndWait,
  startDetached,
  waitUntil,
} from './processes.js';
import type { DrillNode, DrillTarget } from './target.js';

export const faults = ['kill', 'stop', 'partition-state', 'partition-peers', 'nats-restart', 'none'] as const;
export type Fault = (typeof faults)[number];

/** GENEVE's IANA port (RFC 8926 §3.3): the fabric between the nodes. */
export const defaultFabricPort = 6081;

export interface FaultOptions {
  fabricPort: number;
  /** How long a node started again may take to answer on its status socket. */
  restartTimeoutMs: number;
}

export interface InjectedFault {
  /** Undoes the fault; resolves when the node (or NATS) is back. */
  restore(): Promise<void>;
}

/** Starts a node again from its command and waits until its status socket answers. */
export async function startNode(node: DrillNode, timeoutMs: number): Promise<number> {
  const pid = startDetached(node.netns, node.command, node.logFile, { pidFile: node.pidFile });
  await waitUntil(
    async () => {
      if (!alive(pid))
        throw new DrillError(`node ${node.id} exited after its restart; its output is in ${node.logFile}`);
      return readStatus(node.statusSocket, 1000).then(
        () => true,
        () => false,
      );
    },
    `node ${node.id} to answer on ${node.statusSocket} after its restart`,
    timeoutMs,
    100,
  );
  return pid;
}

/**
 * Refuses, before any traffic starts, a fault the target cannot take: a partition of a node that shares
 * its namespace with other nodes (the rules would cut them too), NATS or Redis faults without entries.
 */
export function checkFault(target: DrillTarget, node: DrillNode, fault: Fault): void {
  if (fault === 'partition-state' || fault === 'partition-peers') {
    const sharing = target.nodes.filter((n) => n.id !== node.id && n.netns === node.netns).map((n) => n.id);
    if (node.netns === '' || sharing.length > 0) {
      throw new DrillTargetError(
        `${fault} needs the node in a network namespace of its own: node ${node.id} shares '${node.netns || 'the root namespace'}'` +
          `${sharing.length > 0 ? ` with ${sharing.join(', ')}` : ''}; use kill, stop or nats-restart there`,
      );
    }
  }
  if (fault === 'partition-state' && target.nats.length === 0 && target.redis === null)
    throw new DrillTargetError('partition-state needs the nats and/or redis entries of the target file');
  if (fault === 'nats-restart' && target.nats.length === 0)
    throw new DrillTargetError('nats-restart needs the nats entries of the target file');
}

export async function injectFault(
  target: DrillTarget,
  node: DrillNode,
  fault: Fault,
  options: FaultOptions,
): Promise<InjectedFault> {
  switch (fault) {
    case 'none':
      // The baseline: the same flows and windows with nothing injected (the lab's own gap).
      return { restore: async () => {} };
    case 'kill':
    case 'stop': {
      const pid = readPid(node.pidFile);
      if (!alive(pid))
        throw new DrillError(`node ${node.id} is not running (pid ${pid} from ${node.pidFile})`);
      await signalAndWait(pid, fault === 'kill' ? 'SIGKILL' : 'SIGTERM', `node ${node.id}`, 30_000);
      return { restore: async () => void (await startNode(node, options.restartTimeoutMs)) };
    }
    case 'partition-state': {
      const endpoints = [
        ...target.nats.map((n) => n.url),
        ...(target.redis === null ? [] : [target.redis.url]),
      ];
      if (endpoints.length === 0)
        throw new DrillTargetError('partition-state needs the nats and/or redis entries of the target file');
      const rules: string[] = [];
      for (const url of endpoints) {
        const { address, port } = await endpoint(url);
        const family = isIP(address) === 6 ? 'ip6' : 'ip';
        rules.push(
          `out ${family} daddr ${address} tcp dport ${port} drop`,
          `in ${family} saddr ${address} tcp sport ${port} drop`,
        );
      }
      return partition(target, node, rules);
    }
    case 'partition-peers':
      return partition(target, node, [
        `out udp dport ${options.fabricPort} drop`,
        `in udp dport ${options.fabricPort} drop`,
      ]);
    case 'nats-restart': {
      if (target.nats.length === 0)
        throw new DrillTargetError('nats-restart needs the nats entries of the target file');
      const images: { pidFile: string; image: ProcessImage; url: string }[] = [];
      for (const server of target.nats) {
        const pid = readPid(server.pidFile);
        images.push({ pidFile: server.pidFile, image: processImage(pid), url: server.url });
      }
      for (const [i, server] of target.nats.entries()) {
        await signalAndWait(readPid(server.pidFile), 'SIGTERM', `NATS server ${server.url}`, 30_000);
        assert.ok(images[i].pidFile === server.pidFile);
      }
      return {
        restore: async () => {
          for (const { pidFile, image, url } of images) {
            startDetached(image.netns, image.argv, `${pidFile}.drill.log`, { pidFile, cwd: image.cwd });
            const { port } = await endpoint(url);
            await waitUntil(
              () => runIn(image.netns, ['ss', '-ltnH', `sport = :${port}`]).trim() !== '',
              `NATS ${url} to listen again`,
              options.restartTimeoutMs,
              100,
            );
          }
        },
      };
    }
  }
}

async function endpoint(url: string): Promise<{ address: string; port: number }> {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const port = Number(parsed.port || (parsed.protocol === 'nats:' ? 4222 : 6379));
  const address = isIP(host) === 0 ? (await lookup(host)).address : host;
  return { address, port };
}

/**
 * nftables rules in the node's namespace (a table of their own, deleted by restore). A partition in a
 * namespace that other nodes share would cut them too, so it is refused there.
 */
async function partition(
  target: DrillTarget,
  node: DrillNode,
  rules: readonly string[],
): Promise<InjectedFault> {
  const sharing = target.nodes.filter((n) => n.id !== node.id && n.netns === node.netns).map((n) => n.id);
  if (node.netns === '' || sharing.length > 0) {
    throw new DrillTargetError(
      `a partition needs the node in a network namespace of its own: node ${node.id} shares '${node.netns || 'the root namespace'}'` +
        `${sharing.length > 0 ? ` with ${sharing.join(', ')}` : ''}; use kill, stop or nats-restart there`,
    );
  }
  const table = `xlat64_drill_${process.pid}`;
  const chain = (hook: 'in' | 'out'): string =>
    `chain ${hook === 'in' ? 'input' : 'output'} { type filter hook ${hook === 'in' ? 'input' : 'output'} priority -10; policy accept; ` +
    rules
      .filter((r) => r.startsWith(`${hook} `))
      .map((r) => `${r.slice(hook.length + 1)}; `)
      .join('') +
    '}';
  // One line: each chain ends with a semicolon, as a statement on one line does.
  runIn(node.netns, ['nft', '-f', '-'], `table inet ${table} { ${chain('in')}; ${chain('out')}; }\n`);
  return { restore: async () => void runIn(node.netns, ['nft', 'delete', 'table', 'inet', table]) };
}
