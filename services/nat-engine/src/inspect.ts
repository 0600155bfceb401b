// Read-only views of a NatState for tests, replay checks and operators: a canonical dump (entry by entry,
// independent of table slots and hash seeds) and the invariants RFC 6888 asks of a CGN pool.

import { formatIpv4, formatIpv6 } from './address.js';
import { PROTOCOL_SLOT_COUNT, PROTOCOL_SLOTS, ProtocolSlot } from './flow-key.js';
import { type NatState, PORT_IN_USE } from './tables/nat-state.js';
import { tcpStateNames } from './tcp-state-machine.js';

export interface StateDump {
  subscribers: string[];
  blocks: string[];
  mappings: string[];
  sessions: string[];
}

function prefixText(state: NatState, s: number): string {
  return `${formatIpv6(state.subscriberPrefix, s * 4)}/${state.config.subscriberPrefixLength}`;
}

/**
 * Every subscriber, leased block (with its ports' hold-down), BIB entry and session, sorted. Sessions show
 * their live expiry, or with `expiry: 'logged'` the expiry the event log holds (what a replica has).
 */
export function dumpState(state: NatState, options: { expiry?: 'live' | 'logged' } = {}): StateDump {
  const logged = options.expiry === 'logged';
  const subscribers: string[] = [];
  for (let s = 0; s < state.subscriberUsed.length; s++) {
    if (state.subscriberUsed[s] === 0) continue;
    const a = state.subscriberAddress[s];
    const counts = [ProtocolSlot.Tcp, ProtocolSlot.Udp, ProtocolSlot.Icmp]
      .map((slot) => state.subscriberBlockCount[s * PROTOCOL_SLOT_COUNT + slot])
      .join('/');
    subscribers.push(
      `${prefixText(state, s)} address#${a} blocks ${counts} mappings ${state.subscriberMappingCount[s]} sessions ${state.subscriberSessionCount[s]}`,
    );
  }
  const blocks: string[] = [];
  const size = state.config.blockSizePorts;
  for (let b = 0; b < state.blockOwner.length; b++) {
    const owner = state.blockOwner[b];
    if (owner === -1) continue;
    const held: string[] = [];
    const slab = state.blockSlab[b];
    for (let i = 0; i < size; i++) {
      const freedAtS = state.slabFreedAtS[slab * size + i];
      if (freedAtS !== 0 && freedAtS !== PORT_IN_USE)
        held.push(`${state.blockFirstPortOf(b) + i}@${freedAtS}`);
    }
    blocks.push(
      `${PROTOCOL_SLOTS[state.blockSlotOf(b)]} ${formatIpv4(state.blockAddressOf(b))}:${state.blockFirstPortOf(b)}+${size} ` +
        `owner ${prefixText(state, owner)} inUse ${state.blockInUse[b]} idleSince ${state.blockIdleSinceMs[b]} freed [${held.join(' ')}]`,
    );
  }
  const mappings: string[] = [];
  for (let m = 0; m < state.config.mappingsMax; m++) {
    if (!state.isMappingUsed(m)) continue;
    mappings.push(
      `${PROTOCOL_SLOTS[state.mappingProtocolOf(m)]} [${formatIpv6(state.mappingRecord, m * 8)}]:${state.mappingV6PortOf(m)} ` +
        `${formatIpv4(state.mappingV4Of(m))}:${state.mappingV4PortOf(m)}${state.mappingStaticOf(m) ? ' static' : ''} sessions ${state.mappingSessionCount[m]}`,
    );
  }
  const sessions: string[] = [];
  for (let s = 0; s < state.config.sessionsMax; s++) {
    if (!state.isSessionUsed(s)) continue;
    const m = state.sessionMappingOf(s);
    const tcp =
      state.mappingProtocolOf(m) === ProtocolSlot.Tcp ? ` ${tcpStateNames[state.sessionStateOf(s)]}` : '';
    sessions.push(
      `${PROTOCOL_SLOTS[state.mappingProtocolOf(m)]} ${formatIpv4(state.mappingV4Of(m))}:${state.mappingV4PortOf(m)} -> ` +
        `${formatIpv4(state.sessionRemoteOf(s))}:${state.sessionRemotePortOf(s)}${tcp} expires ${logged ? state.sessionLoggedExpiresAtOf(s) : state.sessionExpiresAtOf(s)}`,
    );
  }
  subscribers.sort();
  blocks.sort();
  mappings.sort();
  sessions.sort();
  return { subscribers, blocks, mappings, sessions };
}

/**
 * Checks the pool invariants; returns the violations (empty when all hold): no two live mappings share
 * an IPv4 (address, port, protocol); all of a subscriber's blocks and mappings are on one address;
 * no subscriber exceeds its block or session limit; counters agree with the tables.
 */
export function checkInvariants(state: NatState): string[] {
  const problems: string[] = [];
  const c = state.config;
  const seen = new Set<string>();
  const mappingsPerSubscriber = new Map<number, number>();
  const sessionsPerMapping = new Map<number, number>();
  for (let s = 0; s < state.config.sessionsMax; s++) {
    if (!state.isSessionUsed(s)) continue;
    const m = state.sessionMappingOf(s);
    if (!state.isMappingUsed(m)) problems.push(`session ${s} on a free mapping ${m}`);
    sessionsPerMapping.set(m, (sessionsPerMapping.get(m) ?? 0) + 1);
  }
  for (let m = 0; m < state.config.mappingsMax; m++) {
    if (!state.isMappingUsed(m)) continue;
    const key = `${state.mappingProtocolOf(m)} ${state.mappingV4Of(m)}:${state.mappingV4PortOf(m)}`;
    if (seen.has(key)) problems.push(`two mappings share ${key}`);
    seen.add(key);
    const sub = state.mappingSubscriberOf(m);
    mappingsPerSubscriber.set(sub, (mappingsPerSubscriber.get(sub) ?? 0) + 1);
    if (state.addressIndexOf(state.mappingV4Of(m)) !== state.subscriberAddress[sub]) {
      problems.push(`mapping ${key} is not on its subscriber's address`);
    }
    const block = state.mappingBlockOf(m);
    if (block !== -1 && state.blockOwner[block] !== sub)
      problems.push(`mapping ${key} is in a block of another subscriber`);
    if ((sessionsPerMapping.get(m) ?? 0) !== state.mappingSessionCount[m])
      problems.push(`mapping ${key} session count`);
    if (state.mappingSessionCount[m] === 0 && state.mappingStaticOf(m) === 0) {
      problems.push(`dynamic mapping ${key} has no session`);
    }
  }
  for (let s = 0; s < state.subscriberUsed.length; s++) {
    if (state.subscriberUsed[s] === 0) continue;
    if (state.subscriberSessionCount[s] > c.subscriberSessionsMax)
      problems.push(`subscriber ${s} over its session limit`);
    if ((mappingsPerSubscriber.get(s) ?? 0) !== state.subscriberMappingCount[s])
      problems.push(`subscriber ${s} mapping count`);
    for (let slot = 0; slot < PROTOCOL_SLOT_COUNT; slot++) {
      let n = 0;
      for (
        let b = state.subscriberBlockHead[s * PROTOCOL_SLOT_COUNT + slot];
        b !== -1;
        b = state.blockNext[b]
      ) {
        n++;
        if (state.blockAddressIndexOf(b) !== state.subscriberAddress[s])
          problems.push(`subscriber ${s} has a block on another address`);
        if (state.blockOwner[b] !== s)
          problems.push(`block ${b} on the list of subscriber ${s} is not owned by it`);
      }
      if (n !== state.subscriberBlockCount[s * PROTOCOL_SLOT_COUNT + slot])
        problems.push(`subscriber ${s} block count`);
      if (n > c.subscriberBlocksMax) problems.push(`subscriber ${s} over its block limit`);
    }
  }
  return problems;
}
