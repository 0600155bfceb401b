// The drill's traffic: a recorder (TCP and UDP echo on the IPv4 server, logging the source address and
// port it sees per flow) and a flow generator (long-lived TCP connections and steady UDP streams from
// the subscribers' IPv6 addresses, logging every reply with its time). Run as its own process inside a
// namespace (`ip netns exec NS node agent.js '<json>'`); both write JSON lines the drill reads back.
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

export interface RecorderOptions {
  readonly mode: 'recorder';
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly log: string;
}

export interface FlowSpec {
  readonly id: string;
  readonly proto: 'tcp' | 'udp';
  /** The subscriber's IPv6 address the flow is sent from. */
  readonly source: string;
}

export interface GeneratorOptions {
  readonly mode: 'flows';
  /** The server as the subscribers reach it (its address in the PLAT's IPv6 prefix). */
  readonly server: string;
  readonly tcpPort: number;
  readonly udpPort: number;
  readonly intervalMs: number;
  readonly flows: readonly FlowSpec[];
  readonly log: string;
}

/** A line of the generator's log. */
export interface FlowLogLine {
  flow: string;
  /** Wall-clock milliseconds. */
  t: number;
  /** A reply: the tick it answers and the source address:port the server saw. */
  n?: number;
  peer?: string;
  /** Otherwise an event: connected, error (with code), closed. */
  event?: 'connected' | 'error' | 'closed';
  code?: string;
}

/** A line of the recorder's log: the first datagram or line of a flow from one source address:port. */
export interface RecorderLogLine {
  flow: string;
  proto: 'tcp' | 'udp';
  peer: string;
  port: number;
  t: number;
}

const request = /^F (\S+) (\d+)$/;

function writer(path: string): (line: object) => void {
  const stream: WriteStream = createWriteStream(path, { flags: 'a' });
  return (line) => stream.write(`${JSON.stringify(line)}\n`);
}

/** The recorder: answers "F <flow> <n>" with "<address>:<port> F <flow> <n>" and logs each new source per flow. */
export function startRecorder(options: RecorderOptions): { stop(): void } {
  const log = writer(options.log);
  const seen = new Set<string>();
  const note = (flow: string, proto: 'tcp' | 'udp', peer: string, port: number): void => {
    const key = `${proto} ${flow} ${peer}:${port}`;
    if (seen.has(key)) return;
    seen.add(key);
    log({ flow, proto, peer, port, t: Date.now() } satisfies RecorderLogLine);
  };
  const tcp = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 1);
        const match = request.exec(line);
        if (match === null) continue;
        const peer = socket.remoteAddress ?? '?';
        const port = socket.remotePort ?? 0;
        note(match[1], 'tcp', peer, port);
        socket.write(`${peer}:${port} ${line}\n`);
      }
    });
  });
  tcp.listen(options.tcpPort, '0.0.0.0');
  const udp = createSocket('udp4');
  udp.on('message', (message, rinfo) => {
    const line = message.toString('latin1').trim();
    const match = request.exec(line);
    if (match === null) return;
    note(match[1], 'udp', rinfo.address, rinfo.port);
    udp.send(`${rinfo.address}:${rinfo.port} ${line}\n`, rinfo.port, rinfo.address);
  });
  udp.bind(options.udpPort, '0.0.0.0');
  return {
    stop() {
      tcp.close();
      udp.close();
    },
  };
}

/** The generator: each flow sends a tick every intervalMs and logs each reply; a broken TCP flow is not reopened. */
export function startFlows(options: GeneratorOptions): { stop(): void } {
  assert.ok(options.intervalMs > 0 && options.flows.length > 0);
  const log = writer(options.log);
  let stopping = false;
  const timers: NodeJS.Timeout[] = [];
  const closers: (() => void)[] = [];
  const onReply = (flow: string, text: string): void => {
    const match = /^(\S+) F (\S+) (\d+)$/.exec(text.trim());
    if (match === null || match[2] !== flow) return;
    log({ flow, t: Date.now(), n: Number(match[3]), peer: match[1] } satisfies FlowLogLine);
  };
  for (const spec of options.flows) {
    let n = 0;
    if (spec.proto === 'tcp') {
      const socket: Socket = createConnection({
        host: options.server,
        port: options.tcpPort,
        localAddress: spec.source,
        family: 6,
      });
      socket.setNoDelay(true);
      let buffered = '';
      let open = false;
      socket.on('connect', () => {
        open = true;
        log({ flow: spec.id, t: Date.now(), event: 'connected' } satisfies FlowLogLine);
      });
      socket.on('data', (chunk) => {
        buffered += chunk.toString('latin1');
        for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
          onReply(spec.id, buffered.slice(0, end));
          buffered = buffered.slice(end + 1);
        }
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (!stopping)
          log({ flow: spec.id, t: Date.now(), event: 'error', code: error.code ?? error.message });
      });
      socket.on('close', () => {
        open = false;
        if (!stopping) log({ flow: spec.id, t: Date.now(), event: 'closed' } satisfies FlowLogLine);
      });
      timers.push(
        setInterval(() => {
          if (open) socket.write(`F ${spec.id} ${++n}\n`);
        }, options.intervalMs),
      );
      closers.push(() => socket.destroy());
    } else {
      const socket: UdpSocket = createSocket('udp6');
      socket.on('message', (message) => onReply(spec.id, message.toString('latin1')));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (!stopping)
          log({ flow: spec.id, t: Date.now(), event: 'error', code: error.code ?? error.message });
      });
      socket.bind(0, spec.source, () => {
        log({ flow: spec.id, t: Date.now(), event: 'connected' } satisfies FlowLogLine);
        timers.push(
          setInterval(() => {
            socket.send(`F ${spec.id} ${++n}\n`, options.udpPort, options.server);
          }, options.intervalMs),
        );
      });
      closers.push(() => socket.close());
    }
  }
  return {
    stop() {
      stopping = true;
      for (const timer of timers) clearInterval(timer);
      for (const close of closers) close();
    },
  };
}

function main(json: string | undefined): void {
  assert.ok(json !== undefined, 'usage: agent.js <options as JSON>');
  const options = JSON.parse(json) as RecorderOptions | GeneratorOptions;
  const running = options.mode === 'recorder' ? startRecorder(options) : startFlows(options);
  const stop = (): void => {
    running.stop();
    setTimeout(() => process.exit(0), 100).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2]);
}
