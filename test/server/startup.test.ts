import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { openDatabase } from '../../server/db/database.ts'
import { MigrationError } from '../../server/errors.ts'

const main = fileURLToPath(new URL('../../server/main.ts', import.meta.url))

/** Runs `npm start`'s entry point with an environment and returns its exit code and output. */
function start (env: Record<string, string>, untilOutput?: RegExp): Promise<{ code: number | null, output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', main], { env: { PATH: process.env.PATH, ...env } })
    let output = ''
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (untilOutput !== undefined && untilOutput.test(output)) child.kill('SIGTERM')
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    // A hang guard, not a speed limit: a first start migrates a new PGlite, which took over 60 s on a
    // machine loaded 10 times over its cores (the file's own guard, .taprc, is 600 s).
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, output }) })
  })
}

t.test('a bad configuration stops the start with a clear message and exit code 2', async (t) => {
  const { code, output } = await start({ HUB_MQTT_PORT: 'x', HUB_LOG_LEVEL: 'silent' })
  t.equal(code, 2)
  t.match(output, 'HUB_MQTT_PORT="x" is not a TCP port')
})

t.test('a taken MQTT port is reported by name, exit code 1', async (t) => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const port = (blocker.address() as AddressInfo).port
  const dir = mkdtempSync(join(tmpdir(), 'hub-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { code, output } = await start({ HUB_HOST: '127.0.0.1', HUB_HTTP_PORT: '0', HUB_MQTT_PORT: String(port), HUB_DATA_DIR: dir })
  t.equal(code, 1)
  t.match(output, `MQTT port ${port} on 127.0.0.1 is already in use`)
})

t.test('first start prints the generated admin password once, picks free ports and logs them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const env = { HUB_HOST: '127.0.0.1', HUB_HTTP_PORT: '0', HUB_MQTT_PORT: '0', HUB_DATA_DIR: dir }
  const first = await start(env, /euicc-hub listening/)
  t.match(first.output, /admin account admin@localhost\npassword: \S{20,}/)
  t.match(first.output, /"httpPort":\d+,"mqttPort":\d+/)
  t.equal(first.code, 0, 'SIGTERM is a clean shutdown')
  const second = await start(env, /euicc-hub listening/)
  t.notMatch(second.output, /password:/, 'the password is never printed again (the data directory persists)')
})

t.test('a failed migration stops the start: MigrationError, exit code 1', async (t) => {
  // A table in the way of the first migration makes it fail for real.
  const dir = mkdtempSync(join(tmpdir(), 'hub-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const pglite = new PGlite(join(dir, 'pglite'))
  await pglite.exec('create table tenants (x int)')
  await pglite.close()
  const failure = await openDatabase('pglite://' + join(dir, 'pglite')).then(() => null, (err: unknown) => err)
  t.ok(failure instanceof MigrationError, 'openDatabase rejects with MigrationError')
  const { code, output } = await start({ HUB_HOST: '127.0.0.1', HUB_HTTP_PORT: '0', HUB_MQTT_PORT: '0', HUB_DATA_DIR: dir })
  t.equal(code, 1)
  t.match(output, 'Database migration failed')
})
