// Rendezvous (highest-random-weight) hashing of virtual shards onto members (Thaler & Ravishankar 1998):
// each (member, shard) pair gets a pseudo-random score; the highest scorer owns the shard and the second
// is its standby. A member that leaves moves exactly its own shards — each to its standby, the next
// scorer — and a member that joins takes only the shards it now outscores: minimal movement, no table of
// M ≫ N slots to rebuild (Maglev), and the standby is the natural heir. Pure: same inputs, same table.
import assert from 'node:assert/strict';

/** `standby[shard]` when there is no second member. */
export const NO_MEMBER = -1;

export interface Assignment {
  /** owner[shard]: index into the sorted member list. */
  owner: Int32Array;
  /** standby[shard]: index into the sorted member list, or NO_MEMBER. */
  standby: Int32Array;
}

/** FNV-1a (32 bit) of a node id's UTF-16 code units: a stable per-member seed. */
export function memberHash(nodeId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < nodeId.length; i++) {
    h ^= nodeId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** MurmurHash3's 32-bit finaliser: full avalanche, so neighbouring shards score independently. */
function fmix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Score of `shard` for the member whose hash is `member` (higher wins). */
export function rendezvousScore(member: number, shard: number): number {
  return fmix32(member ^ fmix32(Math.imul(shard + 1, 0x9e3779b1)));
}

/**
 * Owner and standby of every shard for `members` (sorted, distinct node ids). Ties (a 2^-32 event)
 * go to the member that sorts first, so the result depends only on the set.
 */
export function rendezvousAssign(members: readonly string[], shardCount: number): Assignment {
  assert.ok(members.length >= 1, 'a table needs at least one member');
  for (let i = 1; i < members.length; i++)
    assert.ok(members[i - 1] < members[i], 'members are sorted and distinct');
  assert.ok(Number.isInteger(shardCount) && shardCount >= 1, 'at least one shard');
  const hashes = members.map(memberHash);
  const owner = new Int32Array(shardCount);
  const standby = new Int32Array(shardCount).fill(NO_MEMBER);
  for (let s = 0; s < shardCount; s++) {
    let best = -1;
    let bestScore = -1;
    let second = NO_MEMBER;
    let secondScore = -1;
    for (let m = 0; m < hashes.length; m++) {
      const score = rendezvousScore(hashes[m], s);
      if (score > bestScore) {
        second = best;
        secondScore = bestScore;
        best = m;
        bestScore = score;
      } else if (score > secondScore) {
        second = m;
        secondScore = score;
      }
    }
    owner[s] = best;
    standby[s] = second;
  }
  return { owner, standby };
}
