// A running role answers `xlat64 status` on a Unix socket: each connection receives one JSON
// document (role, uptime, counters by name, role details) and is closed. Control plane only.
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { DataplaneError } from './errors.js';

export const defaultStatusDirectory = '/run/xlat64';

export interface StatusDocument {
  role: string;
  pid: number;
  startedAt: string;
  counters: Record<string, number>;
  [detail: string]: unknown;
}

export class StatusServer {
  private server: Server | null = null;

  constructor(
    readonly socketPath: string,
    private readonly snapshot: () => StatusDocument,
  ) {}

  async start(): Promise<void> {
    mkdirSync(dirname(this.socketPath), { recursive: true });
    rmSync(this.socketPath, { force: true });
    const server = createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.end(`${JSON.stringify(this.snapshot())}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) =>
        reject(
          new DataplaneError('XLAT64_ERR_STATUS', `cannot listen on ${this.socketPath}: ${error.message}`),
        ),
      );
      server.listen(this.socketPath, () => resolve());
    });
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }
}

/** Reads one status document; names the socket and the likely fix when nothing answers. */
export function readStatus(socketPath: string, timeoutMs = 5000): Promise<StatusDocument> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DataplaneError('XLAT64_ERR_STATUS', `${socketPath}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => {
      text += chunk;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new DataplaneError(
          'XLAT64_ERR_STATUS',
          `${socketPath}: ${error.code ?? error.message} — is an xlat64 plat/clat running? (pass --socket if it uses another path)`,
        ),
      );
    });
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as StatusDocument);
      } catch {
        reject(new DataplaneError('XLAT64_ERR_STATUS', `${socketPath}: the answer is not JSON`));
      }
    });
  });
}

/** The status sockets present in a directory (one per running role). */
export function findStatusSockets(directory = defaultStatusDirectory): string[] {
  try {
    return readdirSync(directory)
      .filter((name) => name.endsWith('.sock'))
      .map((name) => join(directory, name))
      .sort();
  } catch {
    return [];
  }
}
