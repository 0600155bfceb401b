// Vitest globalSetup: one Kafka broker (KRaft, single node) per test run for the compliance suites.
// It returns as soon as the JVM is started, so the broker's ~10 s start overlaps the other suites;
// tests call kafkaForTests() (test/compliance/support.ts), which waits until it answers. Teardown
// stops it by PID and removes its temporary directory.
import type { TestProject } from 'vitest/node';
import { type KafkaBroker, removeKafkaDir, startKafka, stopKafka } from './broker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBroker: KafkaBroker;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const broker = await startKafka({ wait: false });
  project.provide('kafkaBroker', broker);
  return async () => {
    await stopKafka(broker);
    removeKafkaDir(broker);
  };
}
