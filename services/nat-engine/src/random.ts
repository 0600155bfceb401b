// Injected randomness (CONVENTIONS.md 4): port choice (RFC 6056), block choice and hash seeds all draw
// from a RandomSource, so a seeded test or simulator replays a run exactly.

export interface RandomSource {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number;
}

/** sfc32 seeded through splitmix32: small, fast, good enough for port selection in tests and simulation. */
export function createSeededRandom(seed: number): RandomSource {
  let s = seed >>> 0;
  const split = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return {
    nextUint32(): number {
      const t = (((a + b) | 0) + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (c << 21) | (c >>> 11);
      c = (c + t) | 0;
      return t >>> 0;
    },
  };
}

/** Production randomness: crypto-quality bytes drawn in batches of 1024 (no allocation per call). */
export function createCryptoRandom(): RandomSource {
  const buffer = new Uint32Array(1024);
  let next = buffer.length;
  return {
    nextUint32(): number {
      if (next === buffer.length) {
        globalThis.crypto.getRandomValues(buffer);
        next = 0;
      }
      return buffer[next++];
    },
  };
}
