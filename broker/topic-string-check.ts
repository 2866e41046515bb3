// The stream guard's string checker (broker/frame-inspector.ts): a PUBLISH topic name or a SUBSCRIBE /
// UNSUBSCRIBE topic filter, fed one byte at a time as it streams past. Well-formed UTF-8 (RFC 3629, as MQTT
// 3.1.1 section 1.5.3 requires), no forbidden code point, and the wildcard rules of section 4.7.1. Its state
// is a few numbers (at most one partial UTF-8 sequence and the previous character), so a string split
// across any number of chunks is checked without copying it.

import { rejection, type GuardRejection } from './stream-guard-policy.ts'

/** What a string is: a PUBLISH topic name (no wildcards) or a SUBSCRIBE/UNSUBSCRIBE topic filter */
export type StringKind = 'topic name' | 'topic filter'

const SLASH = 0x2f
const PLUS = 0x2b
const HASH = 0x23

const hexCodePoint = (cp: number): string => 'U+' + cp.toString(16).toUpperCase().padStart(4, '0')

/**
 * Why a decoded code point may not appear in an MQTT string, or undefined. Section 1.5.3 forbids
 * surrogates [MQTT-1.5.3-1] and U+0000 [MQTT-1.5.3-2]; the control characters and noncharacters it says
 * SHOULD NOT appear are refused too, as Mosquitto refuses them (a topic is an identifier, never text).
 */
function forbiddenCodePoint (cp: number): string | undefined {
  if (cp >= 0xd800 && cp <= 0xdfff) return `the surrogate ${hexCodePoint(cp)}` // [MQTT-1.5.3-1]
  if (cp === 0) return 'U+0000' // [MQTT-1.5.3-2]
  if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) return `the control character ${hexCodePoint(cp)}`
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return `the noncharacter ${hexCodePoint(cp)}`
  return undefined
}

/** Checks one topic string at a time; `start` before each string, `byte` for each of its bytes. */
export class TopicStringCheck {
  kind: StringKind = 'topic name'
  private need = 0
  private length = 0
  private codePoint = 0
  /** The previous character of the current string (-1 at its start), for the wildcard rules */
  private previous = -1

  start (kind: StringKind): void {
    this.kind = kind
    this.need = 0
    this.previous = -1
  }

  /** Feeds one byte of the string of packet `packet`: the rejection, or undefined */
  byte (b: number, packet: string): GuardRejection | undefined {
    const decoded = this.utf8Byte(b)
    if (typeof decoded === 'string') {
      // [MQTT-1.5.3-1] [MQTT-1.5.3-2] well-formed UTF-8, no surrogates, no U+0000 (controls and
      // noncharacters refused as Mosquitto does); for topics [MQTT-4.7.3-2]
      return rejection('invalid-string', `${packet} ${this.kind} contains ${decoded}`)
    }
    const why = decoded >= 0 ? this.wildcards(decoded) : undefined
    return why === undefined ? undefined : rejection('invalid-topic', `${packet} ${this.kind}: ${why}`)
  }

  /** A string must not end inside a UTF-8 sequence */
  get partial (): boolean {
    return this.need > 0
  }

  /** A decoded code point, -1 while inside a sequence, or why the byte is refused */
  private utf8Byte (b: number): number | string {
    if (this.need === 0) {
      if (b < 0x80) return this.complete(b, 1)
      // C0 and C1 only start overlong forms, F5..FF code points above U+10FFFF, 80..BF continue
      if (b >= 0xc2 && b <= 0xdf) return this.startSequence(b & 0x1f, 1)
      if (b >= 0xe0 && b <= 0xef) return this.startSequence(b & 0x0f, 2)
      if (b >= 0xf0 && b <= 0xf4) return this.startSequence(b & 0x07, 3)
      return `ill-formed UTF-8 (byte 0x${b.toString(16)})`
    }
    if ((b & 0xc0) !== 0x80) return `ill-formed UTF-8 (byte 0x${b.toString(16)} inside a sequence)`
    this.codePoint = (this.codePoint << 6) | (b & 0x3f)
    return --this.need === 0 ? this.complete(this.codePoint, this.length) : -1
  }

  private startSequence (bits: number, continuation: number): number {
    this.codePoint = bits
    this.need = continuation
    this.length = continuation + 1
    return -1
  }

  private complete (cp: number, length: number): number | string {
    if ((length === 3 && cp < 0x800) || (length === 4 && cp < 0x10000)) return `an overlong UTF-8 form of ${hexCodePoint(cp)}`
    if (cp > 0x10ffff) return 'a code point above U+10FFFF'
    return forbiddenCodePoint(cp) ?? cp
  }

  /** Wildcard rules, one character at a time (section 4.7.1): why `c` is refused here, or undefined */
  private wildcards (c: number): string | undefined {
    if (this.kind === 'topic name') {
      // [MQTT-3.3.2-2] the topic name in a PUBLISH must not contain wildcard characters
      return c === PLUS || c === HASH ? `wildcard ${String.fromCharCode(c)}` : undefined
    }
    // [MQTT-4.7.1-2] '#' stands alone in the last level: nothing may follow it
    if (this.previous === HASH) return "'#' not last"
    // [MQTT-4.7.1-3] '+' occupies an entire level: only a separator may follow it
    if (this.previous === PLUS && c !== SLASH) return "'+' not alone in its level"
    // ... and a wildcard may only start a level
    const levelStart = this.previous === -1 || this.previous === SLASH
    if ((c === PLUS || c === HASH) && !levelStart) return `'${String.fromCharCode(c)}' inside a level`
    this.previous = c
    return undefined
  }
}
