import { loadConfig } from '../config.ts'
import { openDatabase } from '../db/database.ts'
import { AuditLog } from './audit-log.ts'

/** `npm run audit:verify`: walks the audit chain of the database named by DATABASE_URL (or the embedded
 * one in HUB_DATA_DIR). Exit 0 when intact, 1 naming the first broken row, 2 when it cannot check. */
async function main (): Promise<number> {
  const config = loadConfig()
  const database = await openDatabase(config.databaseUrl, { poolSize: 2 })
  try {
    const result = await new AuditLog(database).verify()
    process.stdout.write(JSON.stringify(result) + '\n')
    if (!result.ok) process.stderr.write(`audit chain broken at row ${result.firstBrokenId}: ${result.reason}\n`)
    return result.ok ? 0 : 1
  } finally {
    await database.close()
  }
}

main().then((code) => { process.exitCode = code }, (err: Error) => {
  process.stderr.write(`audit:verify failed: ${err.message}\n`)
  process.exitCode = 2
})
