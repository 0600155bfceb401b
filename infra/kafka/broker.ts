// Test and bench helper around start-kafka.sh / stop-kafka.sh: start a broker (or restart one in its
// directory), wait until it answers clients, stop it by PID. The vitest globalSetup (global-setup.ts)
// starts one broker per test run; tests that stop and restart Kafka start their own with these.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import kafkajs from 'kafkajs';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

export interface KafkaBroker {
  port: number;
  pid: number;
  dir: string;
  bootstrap: string;
}

/**
 * Starts a broker (in `dir` again when given: same ports and data). `wait: false` returns at JVM start.
 * The broker is stopped by a watchdog when this process exits without stopping it.
 */
export async function startKafka(options: { dir?: string; wait?: boolean } = {}): Promise<KafkaBroker> {
  const args = [`${here}start-kafka.sh`, '--owner-pid', String(process.pid)];
  if (options.dir !== undefined) args.push('--dir', options.dir);
  if (options.wait === false) args.push('--no-wait');
  const { stdout } = await run('bash', args, { maxBuffer: 1 << 20 });
  const value = (name: string): string => {
    const match = new RegExp(`^${name}=(.*)$`, 'm').exec(stdout);
    if (match === null) throw new Error(`start-kafka.sh printed no ${name}: ${stdout}`);
    return match[1];
  };
  return {
    port: Number(value('KAFKA_PORT')),
    pid: Number(value('KAFKA_PID')),
    dir: value('KAFKA_DIR'),
    bootstrap: value('KAFKA_BOOTSTRAP'),
  };
}

/** Stops the broker by its PID (SIGTERM, or SIGKILL with `kill`, as a crash) and waits until it is gone. */
export async function stopKafka(
  broker: Pick<KafkaBroker, 'pid'>,
  options: { kill?: boolean } = {},
): Promise<void> {
  const args = [`${here}stop-kafka.sh`, String(broker.pid)];
  if (options.kill) args.push('--kill');
  await run('bash', args);
}

export function removeKafkaDir(broker: Pick<KafkaBroker, 'dir'>): void {
  rmSync(broker.dir, { recursive: true, force: true });
}

/** Resolves once the broker at `bootstrap` serves metadata; fails with the broker log's tail if it died. */
export async function waitForKafka(
  bootstrap: string,
  options: { dir?: string; pid?: number; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const kafka = new kafkajs.Kafka({
    clientId: 'xlat64-wait',
    brokers: [bootstrap],
    connectionTimeout: 1000,
    retry: { retries: 0 },
    logLevel: kafkajs.logLevel.NOTHING,
  });
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return;
    } catch (error) {
      if (options.pid !== undefined && !alive(options.pid)) {
        throw new Error(
          `the Kafka broker (PID ${options.pid}) exited during start:\n${logTail(options.dir)}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `Kafka at ${bootstrap} not ready: ${(error as Error).message}\n${logTail(options.dir)}`,
        );
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.split(' ')[0];
    return state !== undefined && state !== 'Z';
  } catch {
    return false;
  }
}

function logTail(dir: string | undefined): string {
  if (dir === undefined) return '';
  try {
    return readFileSync(`${dir}/broker.log`, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return '';
  }
}
