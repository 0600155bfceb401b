// HOST:PORT of an endpoint (the metrics listener), parsed and printed. Its own module without
// OpenTelemetry, so configuration readers (libs/dataplane) can use it without loading the SDK.
export interface ListenAddress {
  host: string;
  port: number;
}

export function formatListenAddress(address: ListenAddress): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Parses `HOST:PORT` or `[V6]:PORT`; returns null when malformed (the caller names the field). */
export function parseListenAddress(text: string): ListenAddress | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return null;
  const port = Number(match[3]);
  if (port > 65535) return null;
  return { host: match[1] ?? match[2], port };
}
