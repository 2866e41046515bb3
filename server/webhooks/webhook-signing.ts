import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** A new signing secret (shown once, at creation): `whsec_` and 32 random bytes, base64url. */
export function newWebhookSecret (): string {
  return 'whsec_' + randomBytes(32).toString('base64url')
}

/** `X-Hub-Signature-256`: `sha256=` and the hex HMAC-SHA256 of the raw body, keyed with the secret as
 * it was shown (its UTF-8 bytes, prefix included). */
export function signatureHeader (secret: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex')
}

/** What a receiver does (docs/alerts.md): recompute over the raw bytes and compare in constant time. */
export function verifySignature (secret: string, body: string | Buffer, header: string | undefined): boolean {
  if (header === undefined) return false
  const expected = Buffer.from(signatureHeader(secret, body))
  const actual = Buffer.from(header)
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}
