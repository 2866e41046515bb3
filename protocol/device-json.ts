/** The JSON a device sends (telemetry, notifications, inventory, command results), read so that nothing
 * the database would refuse, or that would cost the hub unbounded work, gets past it: strict UTF-8, no
 * NUL (raw or escaped: Postgres refuses it in text and jsonb), no lone surrogates, bounded nesting. A
 * payload refused here is quarantined and acknowledged (DESIGN.md "Session semantics"), never resent. */

/** Deeper than any payload of the contract needs; 5,000 nested arrays are refused, not walked. */
export const MAX_JSON_DEPTH = 32

export type DeviceJsonResult =
  | { ok: true, value: unknown }
  | { ok: false, reason: 'invalid-utf8' | 'nul-byte' | 'lone-surrogate' | 'too-deep' | 'invalid-json', detail: string }

const utf8 = new TextDecoder('utf-8', { fatal: true })

export function parseDeviceJson (payload: Uint8Array): DeviceJsonResult {
  let text: string
  try {
    text = utf8.decode(payload)
  } catch {
    return { ok: false, reason: 'invalid-utf8', detail: 'the payload is not UTF-8' }
  }
  if (text.includes('\u0000') || /\\u0000/i.test(text)) return { ok: false, reason: 'nul-byte', detail: 'the payload contains a NUL character' }
  // Brackets are counted before parsing, so a deeply nested payload costs one linear scan and no parse.
  const depth = bracketDepth(text)
  if (depth > MAX_JSON_DEPTH) return { ok: false, reason: 'too-deep', detail: `nesting deeper than ${MAX_JSON_DEPTH} levels` }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    return { ok: false, reason: 'invalid-json', detail: (err as Error).message.slice(0, 200) }
  }
  // Raw UTF-8 cannot encode a lone surrogate; an escaped one (`\ud800`) survives JSON.parse.
  if (/\\u[dD][89a-fA-F]/.test(text) && !wellFormed(value)) {
    return { ok: false, reason: 'lone-surrogate', detail: 'a string contains a lone UTF-16 surrogate' }
  }
  return { ok: true, value }
}

/** The deepest nesting of `[`/`{` outside strings. */
function bracketDepth (text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return max
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const isWellFormed = (s: string): boolean => !LONE_SURROGATE.test(s)

/** Every string (keys included) is well-formed UTF-16. Iterative; the depth is already bounded. */
function wellFormed (root: unknown): boolean {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value === 'string') {
      if (!isWellFormed(value)) return false
    } else if (Array.isArray(value)) {
      stack.push(...value)
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (!isWellFormed(key)) return false
        stack.push(item)
      }
    }
  }
  return true
}
