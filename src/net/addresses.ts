import { BlockList, isIP } from 'node:net';

/** An address as Node reports it, IPv4-mapped IPv6 (`::ffff:10.0.0.1`) written as plain IPv4. */
export function plain(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/** "10.0.0.0/8", "2001:db8::/32" or one address: true when it is one of these. */
export function isAddressOrCidr(entry: string): boolean {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** A BlockList of addresses and CIDR ranges (entries checked with isAddressOrCidr beforehand). */
export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/');
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

export function contains(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The caller's address: the peer's, unless the peer is a trusted proxy; then X-Forwarded-For is read
 * from the right (each proxy appends the address it was called from), skipping trusted proxies, and
 * the first address not a trusted proxy is the caller. What an untrusted peer writes there is ignored,
 * so nobody can choose the address a failure limit is counted against.
 */
export function clientAddress(peer: string, forwardedFor: string, trusted: BlockList): string {
  let client = plain(peer);
  const hops = forwardedFor
    .split(',')
    .map((hop) => plain(hop.trim()))
    .filter(Boolean)
    .reverse();
  for (const hop of hops) {
    if (!contains(trusted, client) || !isIP(hop)) break;
    client = hop;
  }
  return client;
}
