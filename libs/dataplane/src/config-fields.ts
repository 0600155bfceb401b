// Field readers for role configuration: each takes the raw value from a config file or flag and
// either returns a checked value or throws an XLAT64_ERR_CONFIG error naming the field, what was
// wrong and how to fix it. Roles declare their schema with these, so every refusal reads alike.
// Address text goes through the one parser in libs/xlat (address.ts).
// The module itself, not the index: the index loads OpenTelemetry, which a role loads only for --metrics.
import { type ListenAddress, parseListenAddress } from '../../telemetry/src/listen-address.js';
import { parseIpv4Address, parseIpv6Address } from '../../xlat/src/index.js';
import { DataplaneError } from './errors.js';

export type RawConfig = Record<string, unknown>;

export function configError(field: string, message: string): DataplaneError {
  return new DataplaneError('XLAT64_ERR_CONFIG', `${field}: ${message}`, { field });
}

/** Refuses keys that are not part of the role's schema (typos must not be silently ignored). */
export function refuseUnknownKeys(raw: RawConfig, known: readonly string[], where = ''): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      throw configError(`${where}${key}`, `unknown option; valid options: ${known.join(', ')}`);
    }
  }
}

export function readString(raw: RawConfig, field: string, fallback?: string): string {
  const value = raw[field] ?? fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw configError(
      field,
      value === undefined ? 'is required' : `expected text, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function readOptionalString(raw: RawConfig, field: string): string | undefined {
  return raw[field] === undefined ? undefined : readString(raw, field);
}

export function readBoolean(raw: RawConfig, field: string, fallback: boolean): boolean {
  const value = raw[field] ?? fallback;
  if (typeof value !== 'boolean')
    throw configError(field, `expected true or false, got ${JSON.stringify(value)}`);
  return value;
}

export function readInteger(
  raw: RawConfig,
  field: string,
  fallback: number,
  min: number,
  max: number,
): number {
  let value = raw[field] ?? fallback;
  if (typeof value === 'string' && /^\d+$/.test(value)) value = Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw configError(
      field,
      `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw[field])}`,
    );
  }
  return value;
}

export function readEnum<T extends string>(
  raw: RawConfig,
  field: string,
  fallback: T,
  allowed: readonly T[],
): T {
  const value = raw[field] ?? fallback;
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw configError(field, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function readIpv4Address(raw: RawConfig, field: string, fallback?: string): string {
  const value = readString(raw, field, fallback);
  if (!isIpv4(value)) throw configError(field, `'${value}' is not an IPv4 address (write it like 192.0.0.1)`);
  return value;
}

export function readIpv6Address(raw: RawConfig, field: string, fallback?: string): string {
  const value = readString(raw, field, fallback);
  if (!isIpv6(value))
    throw configError(field, `'${value}' is not an IPv6 address (write it like 2001:db8::1)`);
  return value;
}

/** An address/length prefix of the given family, with no host bits checked here (the libraries check). */
export function readPrefix(raw: RawConfig, field: string, family: 4 | 6, fallback?: string): string {
  const value = readString(raw, field, fallback);
  checkPrefix(field, value, family);
  return value;
}

export function checkPrefix(field: string, value: string, family: 4 | 6): void {
  const [address, length, ...rest] = value.split('/');
  const maxLength = family === 4 ? 32 : 128;
  const validAddress = family === 4 ? isIpv4(address) : isIpv6(address);
  if (
    !validAddress ||
    length === undefined ||
    rest.length > 0 ||
    !/^\d+$/.test(length) ||
    Number(length) > maxLength
  ) {
    const example = family === 4 ? '203.0.113.0/24' : '64:ff9b::/96';
    throw configError(field, `'${value}' is not an IPv${family} prefix (write it like ${example})`);
  }
}

/** Linux interface names: 1-15 characters, no '/', no whitespace. */
export function readDeviceName(raw: RawConfig, field: string, fallback: string): string {
  const value = readString(raw, field, fallback);
  if (value.length > 15 || /[\s/:]/.test(value)) {
    throw configError(
      field,
      `'${value}' is not a valid interface name (1-15 characters, no spaces, '/' or ':')`,
    );
  }
  return value;
}

function isIpv4(text: string): boolean {
  return parseIpv4Address(text) !== null;
}

function isIpv6(text: string): boolean {
  return parseIpv6Address(text) !== null;
}

/** An optional `HOST:PORT` / `[V6]:PORT` listen address (the metrics and dashboard endpoint). */
export function readListenAddress(raw: RawConfig, field: string): ListenAddress | undefined {
  const value = raw[field];
  if (value === undefined) return undefined;
  const parsed = typeof value === 'string' ? parseListenAddress(value) : null;
  if (parsed === null)
    throw configError(
      field,
      `expected HOST:PORT or [IPV6]:PORT (e.g. 127.0.0.1:9464), got ${JSON.stringify(value)}`,
    );
  return parsed;
}
