// A raw ICMPv6 socket (the CLAT's own addon, native/icmpv6.c) with the kernel's ICMP6_FILTER set to
// the one type a user wants (RFC 3542 sec. 3.2), so the RA listener and the PLAT probe wake only for
// their own messages; each message arrives with its hop limit and interface (RFC 3542 sec. 6), which
// RFC 4861 sec. 6.1.2 needs. The kernel fills in ICMPv6 checksums on raw ICMPv6 sockets.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { ClatError } from './errors.js';

export interface Icmpv6Message {
  readonly message: Buffer;
  /** The source address in inet_ntop form (no zone). */
  readonly source: string;
  /** The IPv6 hop limit the message arrived with; -1 if the kernel gave none. */
  readonly hopLimit: number;
  /** The interface it arrived on. */
  readonly ifindex: number;
}

export interface Icmpv6SocketOptions {
  /** Listen (and send) on this interface only; every interface when absent. */
  device?: string;
  onMessage(message: Icmpv6Message): void;
  /** The socket failed (it no longer delivers); the owner closes it and decides when to reopen. */
  onError(error: ClatError): void;
}

export interface Icmpv6Socket {
  /** Sends one ICMPv6 message; throws a ClatError (code XLAT64_ERR_ICMPV6_SEND) naming the errno. */
  send(message: Buffer, destination: string, ifindex: number, hopLimit: number): void;
  close(): void;
}

interface Icmpv6Native {
  open(
    passType: number,
    device: string,
    onMessage: (message: Buffer, source: string, hopLimit: number, ifindex: number) => void,
    onError: (code: string, message: string) => void,
  ): object;
  send(handle: object, message: Buffer, destination: string, ifindex: number, hopLimit: number): number;
  close(handle: object): void;
  ifindex(name: string): number;
}

/** services/clat's own directory, from src/ (`..`) or from dist/services/clat/src/. */
function clatPackageDir(): string {
  const fromSource = new URL('../', import.meta.url);
  if (existsSync(new URL('binding.gyp', fromSource))) return fileURLToPath(fromSource);
  return fileURLToPath(new URL('../../../../services/clat/', import.meta.url));
}

/** The addon: XLAT64_ICMPV6_ADDON (set by the single-file bundle) or the one `npm install` built. */
export function icmpv6AddonPath(): string {
  return process.env.XLAT64_ICMPV6_ADDON ?? `${clatPackageDir()}build/Release/xlat64_icmpv6.node`;
}

let loaded: Icmpv6Native | undefined;

function native(): Icmpv6Native {
  if (loaded !== undefined) return loaded;
  const file = icmpv6AddonPath();
  try {
    loaded = createRequire(import.meta.url)(file) as Icmpv6Native;
  } catch (error) {
    throw new ClatError(
      'XLAT64_ERR_RAW_SOCKET',
      `cannot load the ICMPv6 socket addon ${file} (${(error as Error).message}); run 'npm install' (it builds the addon)`,
      { cause: error },
    );
  }
  return loaded;
}

/** The index of interface `name`, 0 when there is none. */
export function interfaceIndex(name: string): number {
  return native().ifindex(name);
}

export function openIcmpv6Socket(passType: number, options: Icmpv6SocketOptions): Icmpv6Socket {
  const addon = native();
  let handle: object | null;
  try {
    handle = addon.open(
      passType,
      options.device ?? '',
      (message, source, hopLimit, ifindex) => {
        try {
          options.onMessage({ message, source, hopLimit, ifindex });
        } catch (error) {
          options.onError(
            new ClatError('XLAT64_ERR_RAW_SOCKET', `ICMPv6 message handler failed: ${String(error)}`, {
              cause: error,
            }),
          );
        }
      },
      (code, message) => options.onError(new ClatError('XLAT64_ERR_RAW_SOCKET', `${message} (${code})`)),
    );
  } catch (error) {
    throw new ClatError(
      'XLAT64_ERR_RAW_SOCKET',
      `cannot open a raw ICMPv6 socket${options.device ? ` on ${options.device}` : ''} (${(error as Error).message}); the CLAT needs root or CAP_NET_RAW`,
      { cause: error },
    );
  }
  return {
    send(message, destination, ifindex, hopLimit) {
      if (handle === null) throw new ClatError('XLAT64_ERR_ICMPV6_SEND', 'the ICMPv6 socket is closed');
      try {
        addon.send(handle, message, destination, ifindex, hopLimit);
      } catch (error) {
        throw new ClatError(
          'XLAT64_ERR_ICMPV6_SEND',
          `sending to ${destination}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    close() {
      if (handle !== null) addon.close(handle);
      handle = null;
    },
  };
}
