import type postgres from 'postgres'

/** Statements a process prepares at most (each of its connections then holds up to this many). */
const DEFAULT_LIMIT = 200
/** Executions of a text before it is prepared. */
const DEFAULT_AFTER = 2

/** Which statement texts to prepare. drizzle runs every statement unprepared, and postgres.js sends an
 * unprepared statement with parameters in two round trips (Parse + Describe, wait for the parameter
 * types, then Bind + Execute); a prepared one, once known on a connection, takes one. A text is prepared
 * from its `after`-th execution on, up to `limit` texts: the hub's statements are few and of fixed shape,
 * and a text built anew each time (a `values` list of another length) stays unprepared once the limit is
 * reached, so the server's and the driver's statement caches stay bounded. */
export class HotStatements {
  private readonly seen = new Map<string, number>()
  private readonly prepared = new Set<string>()

  constructor (private readonly limit = DEFAULT_LIMIT, private readonly after = DEFAULT_AFTER) {}

  get size (): number { return this.prepared.size }

  /** Whether this execution of `text` runs prepared. */
  prepare (text: string): boolean {
    if (this.prepared.has(text)) return true
    if (this.prepared.size >= this.limit) return false
    const count = (this.seen.get(text) ?? 0) + 1
    if (count >= this.after) {
      this.seen.delete(text)
      this.prepared.add(text)
      return true
    }
    // Texts seen once are counted in a bounded map: forgetting them costs only a later preparation.
    if (this.seen.size >= 10 * this.limit) this.seen.clear()
    this.seen.set(text, count)
    return false
  }
}

type Unsafe = postgres.Sql['unsafe']
type Scope = (sql: postgres.TransactionSql) => unknown

/** `client` as drizzle's postgres-js driver uses it (`unsafe`, and `begin`/`savepoint` whose scopes
 * get their own `unsafe`), with the statements `hot` names run prepared. Statements are planned afresh
 * each time all the same (the connection's `plan_cache_mode = force_custom_plan`, see
 * server/db/database.ts): preparing saves the round trip and the parse, never changes a plan. */
export function preparingHotStatements<T extends postgres.Sql | postgres.TransactionSql> (client: T, hot: HotStatements): T {
  const unsafe: Unsafe = (text, args, options) => {
    const prepare = Array.isArray(args) && args.length > 0 && options?.prepare !== true && hot.prepare(text)
    return client.unsafe(text, args, prepare ? { ...options, prepare: true } : options)
  }
  const scoped = (fn: Scope) => (tx: postgres.TransactionSql) => fn(preparingHotStatements(tx, hot))
  return new Proxy(client, {
    get (target, key, receiver) {
      if (key === 'unsafe') return unsafe
      if (key === 'begin') {
        return (options: string | Scope, fn?: Scope) => typeof options === 'function'
          ? (target as postgres.Sql).begin(scoped(options))
          : (target as postgres.Sql).begin(options, scoped(fn as Scope))
      }
      if (key === 'savepoint') {
        return (name: string | Scope, fn?: Scope) => typeof name === 'function'
          ? (target as postgres.TransactionSql).savepoint(scoped(name))
          : (target as postgres.TransactionSql).savepoint(name, scoped(fn as Scope))
      }
      return Reflect.get(target, key, receiver)
    }
  })
}
