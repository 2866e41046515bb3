import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm as pgTrgm } from '@electric-sql/pglite/contrib/pg_trgm'
import { sql, type SQL } from 'drizzle-orm'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import postgres from 'postgres'
import { MigrationError } from '../errors.ts'
import * as schema from './schema/index.ts'
import { resultRows } from './sql-values.ts'
import { HotStatements, preparingHotStatements } from './hot-statements.ts'

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>
export type DatabaseDriver = 'pglite' | 'postgres'

/** One interface over both drivers: the same drizzle queries run on PGlite and on a Postgres server. */
export interface Database {
  readonly db: Db
  readonly driver: DatabaseDriver
  /** Runs raw SQL and returns its rows, whichever driver is underneath. */
  rows<T = Record<string, unknown>>(query: SQL): Promise<T[]>
  close(): Promise<void>
}

export const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url))

/** Opens the database named by `url` (postgres://…, pglite://memory or pglite:///path) and applies
 * the committed migrations; a failed migration rejects with MigrationError. */
export async function openDatabase (url: string, options: { poolSize?: number } = {}): Promise<Database> {
  const database = url.startsWith('pglite://') ? await openPglite(url.slice('pglite://'.length)) : openPostgres(url, options.poolSize ?? 10)
  try {
    await database.migrate()
  } catch (err) {
    await database.close().catch(() => {})
    throw new MigrationError(err)
  }
  return database
}

interface MigratableDatabase extends Database { migrate(): Promise<void> }

async function openPglite (location: string): Promise<MigratableDatabase> {
  let client: PGlite
  // pg_trgm: the device search's trigram indexes (migration 0013).
  const options = { extensions: { pg_trgm: pgTrgm } }
  if (location === 'memory' || location === '') {
    client = new PGlite(options)
  } else {
    mkdirSync(location, { recursive: true })
    client = new PGlite(location, options)
  }
  await client.waitReady
  const db = drizzlePglite({ client, schema, casing: 'snake_case' })
  return {
    db: db as unknown as Db,
    driver: 'pglite',
    async rows<T> (query: SQL) { return resultRows<T>(await db.execute(query)) },
    migrate: () => migratePglite(db, { migrationsFolder }),
    close: () => client.close()
  }
}

function openPostgres (url: string, poolSize: number): MigratableDatabase {
  // Every execution planned with its own parameters, prepared or not (server/db/hot-statements.ts): the
  // partitioned tables' time ranges prune partitions at planning, as unprepared statements always did.
  const client = postgres(url, { max: poolSize, onnotice: () => {}, connect_timeout: 10, connection: { plan_cache_mode: 'force_custom_plan' } })
  const db = drizzlePostgres({ client: preparingHotStatements(client, new HotStatements()), schema, casing: 'snake_case' })
  return {
    db: db as unknown as Db,
    driver: 'postgres',
    async rows<T> (query: SQL) { return resultRows<T>(await db.execute(query)) },
    async migrate () {
      // Several hub processes may start together against one server: one migrates, the others wait.
      const lock = await client.reserve()
      try {
        await lock`select pg_advisory_lock(827364)`
        await migratePostgres(db, { migrationsFolder })
      } finally {
        await lock`select pg_advisory_unlock(827364)`.catch(() => {})
        lock.release()
      }
    },
    close: () => client.end({ timeout: 5 })
  }
}

export async function ping (database: Database): Promise<void> {
  await database.rows(sql`select 1`)
}
