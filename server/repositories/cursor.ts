import { DEVICE_ID_PATTERN } from '../../protocol/topics.ts'
import { errors } from '../errors.ts'

export const InvalidCursorError = errors.InvalidCursor

/** What each key of a cursor holds. The lists page by row ids or sequence numbers (`int`: safe
 * integers), UUIDs and times as `toISOString` writes them (`time`: years 0001–9999). Anything else is
 * not a cursor this API wrote, and must not reach a query (a bad time or UUID is an error in Postgres,
 * so a 500; a telemetry cursor given to the commands list would put a number into a uuid). */
export type CursorKey = 'time' | 'uuid' | 'int' | 'device-id'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const KEY_CHECKS: Record<CursorKey, (k: unknown) => boolean> = {
  time: (k) => typeof k === 'string' && ISO_TIME.test(k) && new Date(k).toISOString() === k,
  uuid: (k) => typeof k === 'string' && UUID.test(k),
  int: (k) => typeof k === 'number' && Number.isSafeInteger(k),
  /** Device ids are client ids (`[A-Za-z0-9_.:-]{1,64}`), not always UUIDs (provisioned fleets name theirs). */
  'device-id': (k) => typeof k === 'string' && DEVICE_ID_PATTERN.test(k)
}
/** The shape a bare arity stands for: `[id]` (row ids) or `[createdAt, id]`, the key of most lists. */
const BY_ARITY: Record<number, readonly CursorKey[]> = { 1: ['int'], 2: ['time', 'uuid'] }

/** Opaque keyset-pagination cursors: base64url of a JSON array of the last row's sort key. */
export function encodeCursor (key: ReadonlyArray<string | number>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

/** The keys of a cursor written by `encodeCursor`, as strings, checked against `shape` (its keys'
 * kinds, or an arity: 1 = `['int']`, 2 = `['time', 'uuid']`); `HUB_ERR_INVALID_CURSOR` (400) for
 * anything else: not base64url, not JSON, another arity, or a key of another kind. */
export function decodeCursor (cursor: string, shape: number | readonly CursorKey[]): string[] {
  const kinds = typeof shape === 'number' ? BY_ARITY[shape] : shape
  if (kinds !== undefined && /^[A-Za-z0-9_-]{1,512}$/.test(cursor)) {
    try {
      const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown
      if (Array.isArray(key) && key.length === kinds.length && key.every((k, i) => KEY_CHECKS[kinds[i]](k))) return key.map(String)
    } catch {}
  }
  throw new InvalidCursorError()
}
