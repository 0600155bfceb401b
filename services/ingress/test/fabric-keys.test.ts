// Fabric key rotation between the main thread and worker 0 (src/cluster/fabric-keys.ts over
// src/shared-json.ts): published keys reach the reader once; refused keys name the field and publish
// nothing, so the running keys stay.
import { describe, expect, it } from 'vitest';
import { createFabricKeysMemory, FabricKeysReader, publishFabricKeys } from '../src/cluster/fabric-keys.js';

const k1 = { id: 1, secretHex: '11'.repeat(32) };
const k2 = { id: 2, secretHex: '22'.repeat(32) };

describe('fabric keys on SIGHUP', () => {
  it('hands a checked key set to the worker once, and returns the key frames are sealed with', () => {
    const memory = createFabricKeysMemory();
    const reader = new FabricKeysReader(memory);
    expect(reader.poll()).toBeUndefined();
    expect(publishFabricKeys(memory, { keys: [k1, k2], currentKeyId: 2 })).toBe(2);
    expect(reader.poll()).toEqual({ keys: [k1, k2], currentKeyId: 2 });
    expect(reader.poll()).toBeUndefined();
    // Without currentKeyId the last key sends.
    expect(publishFabricKeys(memory, { keys: [k2] })).toBe(2);
    expect(reader.poll()).toEqual({ keys: [k2] });
  });

  it('refuses bad keys naming the field, and publishes nothing', () => {
    const memory = createFabricKeysMemory();
    const reader = new FabricKeysReader(memory);
    expect(() => publishFabricKeys(memory, { keys: [k1], currentKeyId: 2 })).toThrow(/fabric\.currentKeyId/);
    expect(() => publishFabricKeys(memory, { keys: [{ id: 3, secretHex: 'abcd' }] })).toThrow(
      /fabric\.keys\[\]\.secretHex/,
    );
    expect(() =>
      publishFabricKeys(memory, { keys: [k1, k2, { id: 3, secretHex: '33'.repeat(32) }] }),
    ).toThrow(/fabric\.keys/);
    expect(reader.poll()).toBeUndefined();
  });
});
