// Test servers (nats-server, redis-server) started and stopped through this folder's shell scripts,
// so tests, the vitest globalSetup and benchmarks start them the same way: a free loopback port, a
// temporary directory, stopped by PID. A test that restarts a server mid-traffic starts its own.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ServerKind = 'nats' | 'redis';

export interface TestServer {
  kind: ServerKind;
  url: string;
  pid: number;
  dir: string;
  port: number;
}

function script(kind: ServerKind): string {
  return fileURLToPath(new URL(kind === 'nats' ? './nats-server.sh' : './redis-server.sh', import.meta.url));
}

export interface StartOptions {
  /** Directory for the server's files; reusing one keeps the data (JetStream store, Redis AOF). */
  dir?: string;
  /** Port on 127.0.0.1; reusing one lets clients reconnect to the same URL after a restart. */
  port?: number;
  /** The server stops (and its temporary directory goes) when this process exits; default: this one. */
  ownerPid?: number;
}

export function startServer(kind: ServerKind, options: StartOptions = {}): TestServer {
  const args = ['start', '--owner', String(options.ownerPid ?? process.pid)];
  if (options.dir !== undefined) args.push('--dir', options.dir);
  if (options.port !== undefined) args.push('--port', String(options.port));
  const out = execFileSync('bash', [script(kind), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const fields = new Map<string, string>();
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const url = fields.get('url');
  const pid = Number(fields.get('pid'));
  const dir = fields.get('dir');
  const port = Number(fields.get('port'));
  if (url === undefined || dir === undefined || !(pid > 0) || !(port > 0)) {
    throw new Error(`${script(kind)} start printed no url/pid/dir/port: ${out}`);
  }
  return { kind, url, pid, dir, port };
}

/** Stops the server by its PID; with `removeDir` its temporary directory goes too. */
export function stopServer(server: TestServer, removeDir = true): void {
  const args = ['stop', String(server.pid)];
  if (removeDir) args.push(server.dir);
  execFileSync('bash', [script(server.kind), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Stops the server and starts it again on the same port (and, with `keepData`, the same directory). */
export function restartServer(server: TestServer, keepData: boolean): TestServer {
  stopServer(server, !keepData);
  return startServer(server.kind, { port: server.port, dir: keepData ? server.dir : undefined });
}
