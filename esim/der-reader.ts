// Strict DER TLV reader. Every node keeps its exact byte range in the input so callers can slice the
// received bytes (signatures are verified over those, never over a re-encoding).

export type DerErrorCode =
  | 'malformed' // structurally impossible: reserved tag, constructed/primitive mix-up, bad value
  | 'truncated' // a length points past the end of its container
  | 'non-minimal' // long-form length or multi-byte tag where a shorter encoding exists
  | 'indefinite-length'
  | 'too-large' // input or a length beyond the configured bound
  | 'too-deep' // nesting beyond the configured bound
  | 'unexpected-tag' // a decoder found another element than the ASN.1 requires
  | 'trailing-data' // bytes after the last element

export class DerDecodeError extends Error {
  readonly code: DerErrorCode
  readonly offset: number | undefined

  constructor (code: DerErrorCode, message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`)
    this.name = 'DerDecodeError'
    this.code = code
    this.offset = offset
  }
}

export type TagClass = 'universal' | 'application' | 'context' | 'private'

export interface DerNode {
  /** All tag bytes as one number, e.g. 0x30, 0xBF2F, 0x5F37. */
  readonly tag: number
  readonly tagClass: TagClass
  readonly tagNumber: number
  readonly constructed: boolean
  /** Offset of the first tag byte in the decoded input. */
  readonly start: number
  readonly headerLength: number
  readonly valueStart: number
  /** Offset just past the value (= end of the TLV). */
  readonly end: number
  /** Children of a constructed node, empty for a primitive one. */
  readonly children: readonly DerNode[]
  /** The decoded input itself (not a copy). */
  readonly source: Uint8Array
}

export interface DerReadOptions {
  /** Largest accepted input in bytes (default 1 MiB). */
  maxLength?: number
  /** Deepest accepted nesting; the outermost element is depth 1 (default 32). */
  maxDepth?: number
}

export const DEFAULT_MAX_LENGTH = 1024 * 1024
export const DEFAULT_MAX_DEPTH = 32
const MAX_TAG_BYTES = 4
const MAX_LENGTH_BYTES = 4
const CLASSES: readonly TagClass[] = ['universal', 'application', 'context', 'private']

/** Decodes exactly one TLV (and everything nested in it) that must span the whole input. */
export function decodeDer (input: Uint8Array, options: DerReadOptions = {}): DerNode {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH
  if (!(input instanceof Uint8Array)) throw new DerDecodeError('malformed', 'input is not a byte array')
  if (input.length === 0) throw new DerDecodeError('truncated', 'input is empty', 0)
  if (input.length > maxLength) {
    throw new DerDecodeError('too-large', `input of ${input.length} bytes exceeds the limit of ${maxLength}`)
  }
  const node = readNode(input, 0, input.length, 1, maxDepth)
  if (node.end !== input.length) {
    throw new DerDecodeError('trailing-data', `${input.length - node.end} bytes after the outermost element`, node.end)
  }
  return node
}

function readNode (src: Uint8Array, offset: number, limit: number, depth: number, maxDepth: number): DerNode {
  if (depth > maxDepth) throw new DerDecodeError('too-deep', `nesting deeper than ${maxDepth}`, offset)
  const start = offset
  const first = src[offset++]!
  const tagClass = CLASSES[first >> 6]!
  const constructed = (first & 0x20) !== 0
  let tagNumber = first & 0x1f
  let tag = first
  if (tagNumber === 0x1f) {
    tagNumber = 0
    for (let count = 1; ; count++) {
      if (offset >= limit) throw new DerDecodeError('truncated', 'tag runs past the end', start)
      if (count >= MAX_TAG_BYTES) throw new DerDecodeError('too-large', 'tag longer than 4 bytes', start)
      const b = src[offset++]!
      if (count === 1 && b === 0x80) throw new DerDecodeError('non-minimal', 'tag number with a leading zero group', start)
      tagNumber = tagNumber * 128 + (b & 0x7f)
      tag = tag * 256 + b
      if ((b & 0x80) === 0) break
    }
    if (tagNumber < 0x1f) throw new DerDecodeError('non-minimal', `tag number ${tagNumber} must use the one-byte form`, start)
  }
  if (tagClass === 'universal') checkUniversal(tagNumber, constructed, start)

  if (offset >= limit) throw new DerDecodeError('truncated', 'length missing', start)
  const lb = src[offset++]!
  let length = lb
  if (lb === 0x80) throw new DerDecodeError('indefinite-length', 'indefinite length is not DER', start)
  if (lb === 0xff) throw new DerDecodeError('malformed', 'reserved length byte 0xFF', start)
  if (lb > 0x80) {
    const n = lb & 0x7f
    if (n > MAX_LENGTH_BYTES) throw new DerDecodeError('too-large', `length of ${n} bytes`, start)
    if (offset + n > limit) throw new DerDecodeError('truncated', 'length runs past the end', start)
    if (src[offset] === 0) throw new DerDecodeError('non-minimal', 'length with a leading zero byte', start)
    length = 0
    for (let i = 0; i < n; i++) length = length * 256 + src[offset++]!
    if (length < 0x80) throw new DerDecodeError('non-minimal', `length ${length} must use the short form`, start)
  }
  const valueStart = offset
  const end = valueStart + length
  if (end > limit) {
    throw new DerDecodeError('truncated', `element of ${length} bytes runs ${end - limit} bytes past its container`, start)
  }

  const children: DerNode[] = []
  if (constructed) {
    let pos = valueStart
    while (pos < end) {
      const child = readNode(src, pos, end, depth + 1, maxDepth)
      children.push(child)
      pos = child.end
    }
  }
  return { tag, tagClass, tagNumber, constructed, start, headerLength: valueStart - start, valueStart, end, children, source: src }
}

function checkUniversal (tagNumber: number, constructed: boolean, offset: number): void {
  if (tagNumber === 0) throw new DerDecodeError('malformed', 'universal tag 0 (end-of-contents) is not DER', offset)
  const mustConstruct = tagNumber === 16 || tagNumber === 17
  const mayConstruct = mustConstruct || tagNumber === 8 || tagNumber === 11 || tagNumber === 29
  if (mustConstruct && !constructed) {
    throw new DerDecodeError('malformed', `universal ${tagNumber} (SEQUENCE/SET) must be constructed`, offset)
  }
  if (!mayConstruct && constructed) {
    throw new DerDecodeError('malformed', `universal ${tagNumber} must be primitive in DER`, offset)
  }
}

/** The whole TLV (tag, length and value) as a view of the decoded input. */
export function tlvBytes (node: DerNode): Uint8Array {
  return node.source.subarray(node.start, node.end)
}

/** The value bytes as a view of the decoded input. */
export function valueBytes (node: DerNode): Uint8Array {
  return node.source.subarray(node.valueStart, node.end)
}

/** A copy of the bytes, detached from the input buffer. */
export function copyBytes (bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes)
}

export function formatTag (tag: number): string {
  return tag.toString(16).toUpperCase().padStart(2, '0')
}

export function expectTag (node: DerNode, tag: number, what: string): DerNode {
  if (node.tag !== tag) {
    throw new DerDecodeError('unexpected-tag', `${what}: expected tag ${formatTag(tag)}, found ${formatTag(node.tag)}`, node.start)
  }
  return node
}

/**
 * Walks the children of a constructed node in order: required and optional elements, then `finish()`
 * which rejects leftovers unless the ASN.1 type has an extension marker.
 */
export class DerCursor {
  private index = 0
  readonly node: DerNode
  readonly what: string

  constructor (node: DerNode, what: string) {
    if (!node.constructed) throw new DerDecodeError('malformed', `${what}: expected a constructed element`, node.start)
    this.node = node
    this.what = what
  }

  peekTag (): number | undefined {
    return this.node.children[this.index]?.tag
  }

  next (tag: number, what: string): DerNode {
    const child = this.node.children[this.index]
    if (child === undefined) {
      throw new DerDecodeError('truncated', `${this.what}: ${what} (tag ${formatTag(tag)}) is missing`, this.node.end)
    }
    this.index++
    return expectTag(child, tag, `${this.what}.${what}`)
  }

  optional (tag: number): DerNode | undefined {
    const child = this.node.children[this.index]
    if (child?.tag !== tag) return undefined
    this.index++
    return child
  }

  finish (extensible = false): void {
    const rest = this.node.children[this.index]
    if (rest !== undefined && !extensible) {
      throw new DerDecodeError('trailing-data', `${this.what}: unexpected element ${formatTag(rest.tag)}`, rest.start)
    }
  }
}
