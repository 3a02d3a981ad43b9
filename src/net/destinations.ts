import { BlockList, isIP } from 'node:net';
import { addressList, contains } from './addresses.js';

/**
 * Where Roster may send requests of its own (security event pushes, trusted issuers' JWKS): the
 * destination policy, pure. README "Outbound requests" describes it.
 *
 * Refused unless `outbound.allowedDestinations` lists them: loopback, link-local (cloud metadata
 * 169.254.169.254), private, shared (carrier-grade NAT), unique-local, unspecified, multicast and
 * reserved addresses, also when written inside IPv6 (IPv4-mapped, NAT64, 6to4).
 */
export type AddressKind =
  'loopback' | 'link-local' | 'private' | 'unique-local' | 'unspecified' | 'multicast' | 'reserved' | 'public';

const RANGES: [Exclude<AddressKind, 'public'>, string, number][] = [
  ['unspecified', '0.0.0.0', 8], // "this network": 0.0.0.0 reaches the local host
  ['private', '10.0.0.0', 8],
  ['private', '100.64.0.0', 10], // shared address space (carrier-grade NAT)
  ['loopback', '127.0.0.0', 8],
  ['link-local', '169.254.0.0', 16], // cloud metadata services
  ['private', '172.16.0.0', 12],
  ['reserved', '192.0.0.0', 24], // IETF protocol assignments
  ['private', '192.168.0.0', 16],
  ['reserved', '198.18.0.0', 15], // benchmarking
  ['multicast', '224.0.0.0', 4],
  ['reserved', '240.0.0.0', 4], // future use, and the broadcast address
  ['unspecified', '::', 128],
  ['loopback', '::1', 128],
  ['reserved', '::', 96], // IPv4-compatible (deprecated)
  ['reserved', '100::', 64], // discard-only
  ['private', '64:ff9b:1::', 48], // local-use NAT64
  ['unique-local', 'fc00::', 7],
  ['link-local', 'fe80::', 10],
  ['private', 'fec0::', 10], // site-local (deprecated)
  ['multicast', 'ff00::', 8],
];

/** One list per kind, in RANGES order (the first that holds an address names it). */
const LISTS: [AddressKind, BlockList][] = RANGES.map(([kind, address, bits]) => {
  const list = new BlockList();
  list.addSubnet(address, bits, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  return [kind, list];
});

/** The eight 16-bit groups of an IPv6 address (already checked with isIP). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1].split('.').map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const part = (s: string | undefined) => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const front = part(head);
  const back = part(tail);
  const middle = tail === undefined ? [] : new Array<number>(8 - front.length - back.length).fill(0);
  return [...front, ...middle, ...back];
}

const ipv4Of = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

/**
 * An address as it is compared: brackets and zone removed, lowercase, and an IPv4 address carried
 * inside IPv6 (IPv4-mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) written as that
 * IPv4 address, since that is what is reached. Undefined when it is no IP address.
 */
export function normalizeAddress(text: string): string | undefined {
  const address = text
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, '')
    .toLowerCase();
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  const g = ipv6Groups(address);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return ipv4Of(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return ipv4Of(g[6], g[7]);
  if (g[0] === 0x2002) return ipv4Of(g[1], g[2]);
  return address;
}

/** What kind of address this is (`public` for none of the refused kinds); undefined when no IP address. */
export function classifyAddress(text: string): AddressKind | undefined {
  const address = normalizeAddress(text);
  if (!address) return undefined;
  const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  return LISTS.find(([, list]) => list.check(address, type))?.[0] ?? 'public';
}

export interface DestinationPolicy {
  /** `outbound.allowedDestinations`: reachable although not public, and over plain http in production. */
  allowed: BlockList;
  /** Production: plain http only to allowed destinations. */
  httpsRequired: boolean;
}

export function destinationPolicy(allowedDestinations: readonly string[], production: boolean): DestinationPolicy {
  return { allowed: addressList(allowedDestinations), httpsRequired: production };
}

export type Verdict = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether Roster may connect to `address` (an IP address: the one resolved and connected to, never a
 * host name). `plainHttp`: the request would go over http, not https.
 */
export function checkDestination(address: string, policy: DestinationPolicy, plainHttp = false): Verdict {
  const normalized = normalizeAddress(address);
  if (!normalized) return { allowed: false, reason: `${address} is not an IP address` };
  const listed = contains(policy.allowed, normalized);
  const kind = classifyAddress(normalized)!;
  if (kind !== 'public' && !listed) {
    const shown = normalized === address ? address : `${address} (${normalized})`;
    return {
      allowed: false,
      reason: `${shown} is a ${kind} address; Roster sends nothing to loopback, link-local, private, unique-local, unspecified, multicast or reserved addresses unless outbound.allowedDestinations lists them`,
    };
  }
  if (plainHttp && policy.httpsRequired && !listed) {
    return {
      allowed: false,
      reason: `plain http to ${address} is refused in production; use https, or list the address in outbound.allowedDestinations`,
    };
  }
  return { allowed: true };
}
