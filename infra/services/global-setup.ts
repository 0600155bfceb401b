// Vitest globalSetup: one nats-server (JetStream) and one redis-server for the whole test run, on free
// loopback ports in temporary directories, stopped by PID when the run ends. Tests read the URLs with
// `inject('natsUrl')` / `inject('redisUrl')`. XLAT64_TEST_NATS_URL / XLAT64_TEST_REDIS_URL point the
// run at servers that already exist instead (nothing is started or stopped then).
import type { TestProject } from 'vitest/node';
import { startServer, stopServer, type TestServer } from './servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    natsUrl: string;
    redisUrl: string;
  }
}

export default function setup(project: TestProject): () => void {
  const started: TestServer[] = [];
  const urlOf = (kind: 'nats' | 'redis', existing: string | undefined): string => {
    if (existing !== undefined && existing !== '') return existing;
    try {
      const server = startServer(kind);
      started.push(server);
      return server.url;
    } catch (error) {
      // Only the suites that need this server fail, and their connect error carries this reason.
      const reason = `${kind}-server could not start: ${(error as Error).message.split('\n').slice(-3).join(' ')}`;
      process.stderr.write(`global setup: ${reason}\n`);
      return `unavailable: ${reason}`;
    }
  };
  project.provide('natsUrl', urlOf('nats', process.env.XLAT64_TEST_NATS_URL));
  project.provide('redisUrl', urlOf('redis', process.env.XLAT64_TEST_REDIS_URL));
  return () => {
    for (const server of started) stopServer(server);
  };
}
