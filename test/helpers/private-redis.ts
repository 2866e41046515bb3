import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { eventually } from './eventually.ts'
import { freePort } from './free-port.ts'
import type { Teardown } from './test-hub.ts'

/** Why a test cannot start a redis-server of its own here, or false. */
export const skipPrivateRedis = spawnSync('redis-server', ['--version']).status === 0
  ? false
  : 'the redis-server binary is not installed (apt-get install redis-server)'

/** A redis-server of the test's own on a free port (never the shared one, which other tests use), or on
 * `port` (to start it again where a hub expects it), answering PING. `server` is its process, to signal
 * by pid: SIGSTOP makes Redis slow (connections stay open, nothing answers), SIGKILL makes it gone.
 * Killed at teardown. The one redis-server starter of the tests (bench/redis-server.ts is the benches'). */
export async function startPrivateRedis (t: Teardown, port?: number): Promise<{ url: string, port: number, server: ChildProcess }> {
  port ??= await freePort()
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  t.teardown(() => { if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL') })
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  probe.on('error', () => {})
  await eventually('redis-server answering', async () => {
    try {
      if (probe.status !== 'ready') await probe.connect()
      return await probe.ping() === 'PONG'
    } catch {
      probe.disconnect()
      return false
    }
  })
  probe.disconnect()
  return { url: `redis://127.0.0.1:${port}`, port, server }
}
