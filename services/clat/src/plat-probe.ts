// PLAT reachability probe (DESIGN.md "CLAT"; RFC 7050 sec. 5's connectivity check done by ICMPv6):
// every interval, one ICMPv6 echo request per known PREF64 to a configured IPv4 host embedded in
// that prefix (RFC 6052), so it crosses the PLAT; a reply counts the round trip, a request
// unanswered by the next round counts a loss. A prefix is down after `lossThreshold` losses in a row.
import assert from 'node:assert/strict';
import { embedIpv4, formatIpv6Address, parseIpv6Address } from '../../../libs/xlat/src/index.js';
import { type Icmpv6Socket, openIcmpv6Socket } from './icmpv6-socket.js';

const ECHO_REQUEST = 128;
const ECHO_REPLY = 129;

export type ProbeState = 'unknown' | 'up' | 'down';

export interface ProbeStats {
  readonly target: string;
  readonly state: ProbeState;
  readonly sent: number;
  readonly received: number;
  readonly lost: number;
  /** Losses in a row now. */
  readonly lostInARow: number;
  /** Round trip of the latest reply, ms (null before the first). */
  readonly rttMs: number | null;
  /** Loss over the requests decided so far (received + lost), percent. */
  readonly lossPercent: number;
}

interface Target {
  readonly prefix: string;
  readonly address: string;
  sent: number;
  received: number;
  lost: number;
  lostInARow: number;
  rttMs: number | null;
  state: ProbeState;
  /** Sequence of the request in flight and when it left, or -1. */
  outstanding: number;
  sentAtMs: number;
  /** The last send error reported, so a prefix without a route logs once, not every interval. */
  lastSendError: string | null;
}

export interface PlatProbeOptions {
  ipv4Address: string;
  lossThreshold: number;
  /** Echo identifier (the process's, by default). */
  identifier?: number;
  now?: () => number;
  /** A state change of a prefix (to 'up' or 'down'). */
  onChange: (prefix: string, state: ProbeState) => void;
  /** A failure to send, reported once per distinct error (the request counts as lost at the next round). */
  onSendError?: (prefix: string, error: Error) => void;
}

export class PlatProbe {
  private readonly options: PlatProbeOptions;
  private readonly identifier: number;
  private readonly now: () => number;
  private readonly targets = new Map<string, Target>();
  private socket: Icmpv6Socket | null = null;
  private sequence = 0;
  private stopped = false;

  constructor(options: PlatProbeOptions) {
    assert.ok(options.lossThreshold >= 1, 'lossThreshold must be at least 1');
    this.options = options;
    this.identifier = (options.identifier ?? process.pid) & 0xffff;
    this.now = options.now ?? (() => performance.now());
  }

  start(): void {
    // After an error the socket is closed; the next round opens a new one.
    const socket = openIcmpv6Socket(ECHO_REPLY, {
      onMessage: ({ message, source }) => this.onReply(message, source),
      onError: (error) => {
        this.options.onSendError?.('(socket)', error);
        socket.close();
        if (this.socket === socket) this.socket = null;
      },
    });
    this.socket = socket;
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
    this.socket = null;
  }

  /** The prefixes to probe from now on (others are forgotten, new ones start 'unknown'). */
  setPrefixes(prefixes: readonly string[]): void {
    for (const prefix of this.targets.keys()) if (!prefixes.includes(prefix)) this.targets.delete(prefix);
    for (const prefix of prefixes) {
      if (this.targets.has(prefix)) continue;
      this.targets.set(prefix, {
        prefix,
        address: embedIpv4(prefix, this.options.ipv4Address),
        sent: 0,
        received: 0,
        lost: 0,
        lostInARow: 0,
        rttMs: null,
        state: 'unknown',
        outstanding: -1,
        sentAtMs: 0,
        lastSendError: null,
      });
    }
  }

  /** One round: requests still unanswered count as lost, then a new request goes to every prefix. */
  round(): void {
    if (this.stopped) return;
    if (this.socket === null) this.start();
    for (const target of this.targets.values()) {
      if (target.outstanding >= 0) {
        target.outstanding = -1;
        target.lost++;
        target.lostInARow++;
        if (target.lostInARow >= this.options.lossThreshold) this.setState(target, 'down');
      }
      this.send(target);
    }
  }

  state(prefix: string): ProbeState {
    return this.targets.get(prefix)?.state ?? 'unknown';
  }

  stats(prefix: string): ProbeStats | null {
    const t = this.targets.get(prefix);
    if (t === undefined) return null;
    const decided = t.received + t.lost;
    return {
      target: t.address,
      state: t.state,
      sent: t.sent,
      received: t.received,
      lost: t.lost,
      lostInARow: t.lostInARow,
      rttMs: t.rttMs,
      lossPercent: decided === 0 ? 0 : Math.round((t.lost / decided) * 1000) / 10,
    };
  }

  private send(target: Target): void {
    const sequence = this.sequence;
    this.sequence = (this.sequence + 1) & 0xffff;
    const request = Buffer.alloc(16);
    request[0] = ECHO_REQUEST;
    request.writeUInt16BE(this.identifier, 4);
    request.writeUInt16BE(sequence, 6);
    request.write('xlat64pr', 8, 'latin1');
    target.outstanding = sequence;
    target.sentAtMs = this.now();
    target.sent++;
    let message: string | null = null;
    try {
      this.socket!.send(request, target.address, 0, 64);
    } catch (error) {
      message = (error as Error).message;
      if (message !== target.lastSendError) this.options.onSendError?.(target.prefix, error as Error);
    }
    target.lastSendError = message;
  }

  private onReply(message: Buffer, source: string): void {
    if (message.length < 8 || message[0] !== ECHO_REPLY) return;
    if (message.readUInt16BE(4) !== this.identifier) return;
    const sequence = message.readUInt16BE(6);
    for (const target of this.targets.values()) {
      if (target.outstanding !== sequence || target.address !== normalize(source)) continue;
      target.outstanding = -1;
      target.received++;
      target.lostInARow = 0;
      target.rttMs = Math.round((this.now() - target.sentAtMs) * 1000) / 1000;
      this.setState(target, 'up');
      return;
    }
  }

  private setState(target: Target, state: ProbeState): void {
    if (target.state === state) return;
    target.state = state;
    this.options.onChange(target.prefix, state);
  }
}

/** The socket reports sources in inet_ntop form; compare in the form embedIpv4 writes. */
function normalize(address: string): string {
  const bytes = parseIpv6Address(address);
  return bytes === null ? address : formatIpv6Address(bytes);
}
