import { createError } from '@fastify/error'

export const InvalidCursorError = createError('HUB_ERR_INVALID_CURSOR', 'The cursor is not one this API returned', 400)

/** Opaque keyset-pagination cursors: base64url of a JSON array of the last row's sort key. */
export function encodeCursor (key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

export function decodeCursor (cursor: string, length: number): string[] {
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
    if (Array.isArray(key) && key.length === length && key.every((k) => typeof k === 'string' || typeof k === 'number')) {
      return key.map(String)
    }
  } catch {}
  throw new InvalidCursorError()
}
