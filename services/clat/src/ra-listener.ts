// Router discovery for the CLAT (RFC 4861 sec. 6.3.7): solicits router advertisements at start (up to
// 3 router solicitations, 4 s apart, until one answers) so the PREF64 is not left waiting for the
// next unsolicited RA, listens for them on a raw ICMPv6 socket (ICMP6_FILTER to type 134) and hands
// each one's source, hop limit and RFC 8781 options to the discovery, which applies RFC 4861
// sec. 6.1.2's checks. A socket that fails is reopened with backoff; an uplink that goes away and
// comes back (a new interface index) gets a new socket and new solicitations.
import { networkInterfaces } from 'node:os';
import type { ClatError } from './errors.js';
import { type Icmpv6Socket, interfaceIndex, openIcmpv6Socket } from './icmpv6-socket.js';
import {
  ICMPV6_ROUTER_ADVERTISEMENT,
  type ParsedRouterAdvertisement,
  parseRouterAdvertisement,
} from './rfc8781.js';

export const ICMPV6_ROUTER_SOLICITATION = 133;
/** RFC 4861 sec. 10: MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL. */
export const MAX_RTR_SOLICITATIONS = 3;
export const RTR_SOLICITATION_INTERVAL_MS = 4000;
const ALL_ROUTERS = 'ff02::2';
const REOPEN_FIRST_MS = 1000;
const REOPEN_MAX_MS = 30_000;

export type RaListenerEvent =
  | 'rs.sent' // one router solicitation went out
  | 'rs.failed' // one could not be sent (no address yet, interface down)
  | 'ra.socket.errors' // the socket failed and was closed
  | 'ra.socket.reopens'; // a new socket was opened after a failure or an uplink change

export interface RaListenerOptions {
  /** The uplink RAs arrive on; undefined: every interface (solicitations on each with a link-local address). */
  device: string | undefined;
  /** Interfaces never solicited on (the CLAT's own TUN). */
  excludeDevices: readonly string[];
  onAdvertisement(router: string, hopLimit: number, parsed: ParsedRouterAdvertisement): void;
  onEvent(event: RaListenerEvent, detail: string): void;
  /** How often the uplink is looked at (index changes, new interfaces); default 1000 ms. */
  watchMs?: number;
  /** Between solicitations; default RFC 4861's 4 s. */
  solicitationIntervalMs?: number;
}

export interface RaListener {
  stop(): void;
}

const SOLICITATION = Buffer.from([ICMPV6_ROUTER_SOLICITATION, 0, 0, 0, 0, 0, 0, 0]);

export function startRaListener(options: RaListenerOptions): RaListener {
  const watchMs = options.watchMs ?? 1000;
  const solicitationIntervalMs = options.solicitationIntervalMs ?? RTR_SOLICITATION_INTERVAL_MS;
  let socket: Icmpv6Socket | null = null;
  /** The uplink's index the socket is bound to (0 with no uplink configured). */
  let boundIndex = 0;
  let reopenDelayMs = REOPEN_FIRST_MS;
  let reopenAt = 0;
  let stopped = false;
  /** Interfaces (name#index) being solicited: solicitations left; answered ones are dropped. */
  const soliciting = new Map<string, { name: string; index: number; left: number; nextAt: number }>();
  /** Interfaces (name#index) seen before, so a returning or new one is solicited once more. */
  const known = new Set<string>();

  const solicit = (name: string, index: number) => {
    soliciting.set(`${name}#${index}`, { name, index, left: MAX_RTR_SOLICITATIONS, nextAt: 0 });
  };

  const open = (why: string): void => {
    socket?.close();
    socket = null;
    const index = options.device === undefined ? 0 : interfaceIndex(options.device);
    if (options.device !== undefined && index === 0) return; // the uplink is not there (yet)
    const opened = openIcmpv6Socket(ICMPV6_ROUTER_ADVERTISEMENT, {
      device: options.device,
      onMessage: ({ message, source, hopLimit, ifindex }) => {
        const parsed = parseRouterAdvertisement(message);
        if (parsed === null) return;
        for (const [key, entry] of soliciting) if (entry.index === ifindex) soliciting.delete(key);
        options.onAdvertisement(source, hopLimit, parsed);
      },
      onError: (error: ClatError) => {
        opened.close();
        if (socket !== opened) return;
        socket = null;
        reopenAt = Date.now() + reopenDelayMs;
        options.onEvent('ra.socket.errors', `${error.message}; reopening in ${reopenDelayMs / 1000} s`);
        reopenDelayMs = Math.min(REOPEN_MAX_MS, reopenDelayMs * 2);
      },
    });
    socket = opened;
    boundIndex = index;
    if (why !== 'start') options.onEvent('ra.socket.reopens', why);
  };

  /** Solicitable interfaces now: the uplink, or every one with a link-local address but lo and the excluded. */
  const interfacesNow = (): { name: string; index: number }[] => {
    if (options.device !== undefined) {
      const index = interfaceIndex(options.device);
      return index === 0 ? [] : [{ name: options.device, index }];
    }
    const found: { name: string; index: number }[] = [];
    for (const [name, addresses] of Object.entries(networkInterfaces())) {
      if (name === 'lo' || options.excludeDevices.includes(name)) continue;
      const linkLocal = addresses?.find((a) => a.family === 'IPv6' && a.address.startsWith('fe80:'));
      if (linkLocal?.scopeid !== undefined) found.push({ name, index: linkLocal.scopeid });
    }
    return found;
  };

  const tick = (): void => {
    if (stopped) return;
    const now = Date.now();
    if (options.device !== undefined) {
      const index = interfaceIndex(options.device);
      if (index !== boundIndex && (index !== 0 || socket !== null)) {
        if (index === 0) {
          socket?.close();
          socket = null;
          boundIndex = 0;
          options.onEvent(
            'ra.socket.errors',
            `uplink ${options.device} is gone; waiting for it to come back`,
          );
        } else {
          open(`uplink ${options.device} is back (interface index ${index})`);
        }
      }
    }
    if (socket === null && reopenAt !== 0 && now >= reopenAt) {
      reopenAt = 0;
      try {
        open('after a socket error');
        reopenDelayMs = REOPEN_FIRST_MS;
      } catch (error) {
        reopenAt = now + reopenDelayMs;
        options.onEvent(
          'ra.socket.errors',
          `${(error as Error).message}; again in ${reopenDelayMs / 1000} s`,
        );
        reopenDelayMs = Math.min(REOPEN_MAX_MS, reopenDelayMs * 2);
      }
    }
    for (const { name, index } of interfacesNow()) {
      const key = `${name}#${index}`;
      if (known.has(key)) continue;
      known.add(key);
      solicit(name, index);
    }
    if (socket === null) return;
    for (const [key, entry] of soliciting) {
      if (now < entry.nextAt) continue;
      try {
        socket.send(SOLICITATION, ALL_ROUTERS, entry.index, 255);
        options.onEvent('rs.sent', `router solicitation on ${entry.name}`);
      } catch (error) {
        options.onEvent('rs.failed', `router solicitation on ${entry.name}: ${(error as Error).message}`);
      }
      entry.left--;
      entry.nextAt = now + solicitationIntervalMs;
      if (entry.left === 0) soliciting.delete(key);
    }
  };

  open('start');
  tick();
  const timer = setInterval(tick, Math.min(watchMs, solicitationIntervalMs));
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      socket?.close();
      socket = null;
    },
  };
}
