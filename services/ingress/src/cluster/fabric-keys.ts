// Fabric key rotation without a restart: on SIGHUP the main thread checks the configuration's
// `cluster.fabric.keys` and `currentKeyId` (the same checks as at start, naming the field) and writes
// them as shared JSON (../shared-json.ts); worker 0, which owns the fabric socket, picks them up in its
// maintenance tick. A rotation: give every node both keys with the new one current, SIGHUP them; once
// all send with it (`fabric.currentKeyId` in status), give only the new key and SIGHUP again.
import { type FabricKeyConfig, FabricKeys } from '../../../cluster/src/index.js';
import { createSharedJsonMemory, publishSharedJson, SharedJsonReader } from '../shared-json.js';

export interface PublishedFabricKeys {
  keys: FabricKeyConfig[];
  currentKeyId?: number;
}

/** Two keys of up to a few hundred hex digits each. */
const FABRIC_KEYS_BYTES = 8192;

export function createFabricKeysMemory(): SharedArrayBuffer {
  return createSharedJsonMemory(FABRIC_KEYS_BYTES);
}

/** Checks the keys (throws the field's error) and publishes them; returns the sending key id. */
export function publishFabricKeys(memory: SharedArrayBuffer, published: PublishedFabricKeys): number {
  const checked = new FabricKeys(published.keys, published.currentKeyId);
  if (!publishSharedJson(memory, published))
    throw new Error(`cluster.fabric.keys: more than ${FABRIC_KEYS_BYTES} bytes of keys`);
  return checked.currentId;
}

/** Worker 0's view of the published keys. */
export class FabricKeysReader extends SharedJsonReader<PublishedFabricKeys> {}
