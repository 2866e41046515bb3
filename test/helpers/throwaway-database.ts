import { randomBytes } from 'node:crypto'
import postgres from 'postgres'

/** A database URL for tests and benchmarks: a fresh database on the server named by `serverUrl` (its
 * drop is returned), or an in-memory PGlite when there is no server. */
export async function createThrowawayDatabase (serverUrl: string | undefined): Promise<{ url: string, drop: () => Promise<void> }> {
  if (serverUrl === undefined || serverUrl === '' || serverUrl.startsWith('pglite://')) {
    return { url: 'pglite://memory', drop: async () => {} }
  }
  const name = 'hub_tmp_' + randomBytes(6).toString('hex')
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  const url = new URL(serverUrl)
  url.pathname = '/' + name
  return {
    url: url.toString(),
    drop: async () => {
      const sql = postgres(serverUrl, { max: 1, onnotice: () => {} })
      await sql.unsafe(`drop database if exists ${name} with (force)`).catch(() => {})
      await sql.end()
    }
  }
}
