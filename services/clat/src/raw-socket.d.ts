// Types for the parts of `raw-socket` 1.8.1 (node-gyp addon, ships no types) the CLAT uses.
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events';

  export const AddressFamily: { IPv4: 1; IPv6: 2 };
  export const Protocol: { None: 0; ICMP: 1; TCP: 6; UDP: 17; ICMPv6: 58 };
  export const SocketLevel: Record<string, number>;
  export const SocketOption: Record<string, number>;

  export interface Socket extends EventEmitter {
    on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'close', listener: () => void): this;
    send(
      buffer: Buffer,
      offset: number,
      length: number,
      address: string,
      afterCallback: (error: Error | null, bytes: number) => void,
    ): this;
    setOption(level: number, option: number, value: Buffer | number, length?: number): void;
    close(): this;
  }

  export function createSocket(options: {
    protocol?: number;
    addressFamily?: number;
    bufferSize?: number;
  }): Socket;
}
