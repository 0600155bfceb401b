// The fabric's keyed MAC over the whole frame except the MAC field, truncated to 128 bits:
// HMAC-SHA-256 (RFC 2104, Node's crypto, the default; sec. 5 allows truncation to half the output) or
// keyed BLAKE2s (RFC 7693 sec. 2.9, allocation-free JS). Up to two keys are held at once, named by a
// one-byte key id in the frame, so a rotation is: add the new key everywhere, switch senders to it,
// remove the old key — no restart. `npm run bench -- fabric` measures both against no MAC.
import { createHmac } from 'node:crypto';
import { configError } from './errors.js';
import { Blake2sMac } from './rfc7693-blake2s.js';
import { FABRIC_HEADER_BYTES, MAC_BYTES, MAC_OFFSET } from './rfc8926-geneve.js';

/** MAC algorithms the fabric offers (one per cluster). */
export const FABRIC_MACS = ['blake2s', 'hmac-sha256'] as const;
export type FabricMacAlgorithm = (typeof FABRIC_MACS)[number];

/** At most this many keys are accepted at once (the current and the one being rotated out or in). */
export const FABRIC_KEYS_MAX = 2;
/** Shortest key: 128 bits (RFC 2104 sec. 3: less than the output length weakens the MAC). */
export const FABRIC_KEY_BYTES_MIN = 16;

export interface FabricKeyConfig {
  /** 0-255, carried in every frame. */
  id: number;
  /** The shared secret, hex (at least 32 hex digits = 128 bits). */
  secretHex: string;
}

export class FabricKeys {
  /** Secrets by key id (256 slots, undefined = not accepted). */
  private readonly secrets: Array<Buffer | undefined> = new Array(256).fill(undefined);
  /** Keyed BLAKE2s states by key id (its key is the first 32 bytes of the secret). */
  private readonly blake: Array<Blake2sMac | undefined> = new Array(256).fill(undefined);
  /** Key id senders use. */
  currentId = 0;

  constructor(keys: readonly FabricKeyConfig[], currentId?: number) {
    this.set(keys, currentId);
  }

  /** Replaces the accepted keys and the sending key (rotation without restart); refuses bad ones by field. */
  set(keys: readonly FabricKeyConfig[], currentId?: number): void {
    if (keys.length < 1 || keys.length > FABRIC_KEYS_MAX) {
      throw configError(
        'fabric.keys',
        `${keys.length} keys`,
        `give 1 or ${FABRIC_KEYS_MAX} keys (two only while rotating)`,
      );
    }
    const next: Array<Buffer | undefined> = new Array(256).fill(undefined);
    for (const key of keys) {
      if (!Number.isInteger(key.id) || key.id < 0 || key.id > 255) {
        throw configError('fabric.keys[].id', `${key.id}`, 'give an integer from 0 to 255');
      }
      if (next[key.id] !== undefined)
        throw configError('fabric.keys[].id', `${key.id} twice`, 'give each key its own id');
      if (!/^([0-9a-fA-F]{2})+$/.test(key.secretHex) || key.secretHex.length < FABRIC_KEY_BYTES_MIN * 2) {
        throw configError(
          'fabric.keys[].secretHex',
          `key ${key.id} is not at least ${FABRIC_KEY_BYTES_MIN} bytes of hex`,
          'give 32 or more hex digits, e.g. from `openssl rand -hex 32`',
        );
      }
      next[key.id] = Buffer.from(key.secretHex, 'hex');
    }
    const current = currentId ?? keys[keys.length - 1].id;
    if (next[current] === undefined) {
      throw configError(
        'fabric.currentKeyId',
        `${current} is not among the keys`,
        'name one of the configured key ids',
      );
    }
    for (let i = 0; i < 256; i++) {
      const secret = next[i];
      this.secrets[i] = secret;
      this.blake[i] = secret === undefined ? undefined : new Blake2sMac(secret.subarray(0, 32));
    }
    this.currentId = current;
  }

  secretOf(id: number): Buffer | undefined {
    return this.secrets[id];
  }

  blake2sOf(id: number): Blake2sMac | undefined {
    return this.blake[id];
  }
}

/** Scratch for verification (single-threaded: one per isolate). */
const expected = Buffer.alloc(32);
const carried = new Uint8Array(MAC_BYTES);

/** Keyed BLAKE2s tag of the frame (MAC field zeroed, as writeFabricHeader leaves it) into the MAC field. */
export function sealFrameBlake2s(mac: Blake2sMac, frame: Uint8Array, length: number): void {
  mac.tag(frame, length, frame, MAC_OFFSET);
}

/** True when the frame's MAC field is its keyed BLAKE2s tag. The field is restored before returning. */
export function verifyFrameBlake2s(mac: Blake2sMac, frame: Uint8Array, length: number): boolean {
  for (let i = 0; i < MAC_BYTES; i++) {
    carried[i] = frame[MAC_OFFSET + i];
    frame[MAC_OFFSET + i] = 0;
  }
  mac.tag(frame, length, expected, 0);
  let diff = 0;
  for (let i = 0; i < MAC_BYTES; i++) {
    diff |= expected[i] ^ carried[i];
    frame[MAC_OFFSET + i] = carried[i];
  }
  return diff === 0;
}

/** Computes the MAC of `frame[0..length)` (MAC field zeroed) with `secret` into `frame[32..48)`. */
export function sealFrame(secret: Buffer, frame: Uint8Array, length: number): void {
  const hmac = createHmac('sha256', secret);
  hmac.update(frame.subarray(0, MAC_OFFSET));
  hmac.update(frame.subarray(FABRIC_HEADER_BYTES, length));
  const digest = hmac.digest();
  frame.set(digest.subarray(0, MAC_BYTES), MAC_OFFSET);
}

/** True when `frame[32..48)` is the MAC of the rest of the frame under `secret` (constant-time compare). */
export function verifyFrame(secret: Buffer, frame: Uint8Array, length: number): boolean {
  const hmac = createHmac('sha256', secret);
  hmac.update(frame.subarray(0, MAC_OFFSET));
  hmac.update(frame.subarray(FABRIC_HEADER_BYTES, length));
  hmac.digest().copy(expected, 0);
  let diff = 0;
  for (let i = 0; i < MAC_BYTES; i++) diff |= expected[i] ^ frame[MAC_OFFSET + i];
  return diff === 0;
}
