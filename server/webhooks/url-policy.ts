import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'

/** Addresses a webhook may not reach unless HUB_WEBHOOK_ALLOW_PRIVATE=1: loopback, private (RFC 1918,
 * unique local), link-local, carrier-grade NAT, "this network", multicast and reserved ranges, and the
 * IPv4-mapped IPv6 forms of all of them. */
const refused = new BlockList()
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
  refused.addSubnet(net, prefix, 'ipv4')
}
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['2001:db8::', 32]] as const) {
  refused.addSubnet(net, prefix, 'ipv6')
}

/** Whether an address (v4 or v6) is one a webhook may not reach. */
export function isPrivateAddress (address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped !== null) return refused.check(mapped[1], 'ipv4')
  const family = isIP(address)
  if (family === 0) return true
  return refused.check(address, family === 4 ? 'ipv4' : 'ipv6')
}

export class WebhookUrlError extends Error {}

export interface ResolvedTarget { url: URL, address: string, family: 4 | 6 }

/** Checks a webhook URL's form: http or https, no credentials, no fragment, at most 2048 characters. */
export function checkWebhookUrl (raw: string): URL {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new WebhookUrlError('not an absolute URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookUrlError('the scheme must be http or https')
  if (url.username !== '' || url.password !== '') throw new WebhookUrlError('credentials in the URL are not accepted (authenticate deliveries by their signature)')
  if (url.hash !== '') throw new WebhookUrlError('a fragment is not sent to the receiver')
  if (raw.length > 2048) throw new WebhookUrlError('longer than 2048 characters')
  return url
}

/** Resolves the URL's host and answers the address to connect to, refusing the whole URL if any address
 * the name resolves to is private (unless `allowPrivate`). The delivery connects to this address, never
 * resolving again, so a name cannot be made to point elsewhere between the check and the connection. */
export async function resolveWebhookTarget (raw: string, allowPrivate: boolean): Promise<ResolvedTarget> {
  const url = checkWebhookUrl(raw)
  const host = url.hostname.replace(/^\[|\]$/g, '')
  let addresses: Array<{ address: string, family: number }>
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }]
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true })
    } catch (err) {
      throw new WebhookUrlError(`${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  if (addresses.length === 0) throw new WebhookUrlError(`${host} does not resolve`)
  if (!allowPrivate) {
    const bad = addresses.find((a) => isPrivateAddress(a.address))
    if (bad !== undefined) throw new WebhookUrlError(`${host} resolves to ${bad.address}, a loopback, private or link-local address (HUB_WEBHOOK_ALLOW_PRIVATE=1 allows it)`)
  }
  return { url, address: addresses[0].address, family: addresses[0].family === 6 ? 6 : 4 }
}
