import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { accepting, freePort } from '../test/helpers/free-port.ts'

/** The Redis a bench's hub runs on. `kind` says which: BENCH_REDIS_URL when set; else a private
 * `redis-server` started for the run on a free port (no persistence), so that the bench's traffic never
 * reaches the hubs of tests sharing the local Redis (the hub's live-event channel is one per Redis, not
 * per installation); else REDIS_URL or the local redis://127.0.0.1:6379. */
export interface BenchRedis { url: string, kind: string, stop: () => Promise<void> }

async function unreachable (url: string): Promise<string | undefined> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 1, retryStrategy: () => null, enableOfflineQueue: false })
  redis.on('error', () => {})
  try {
    await redis.connect()
    await redis.ping()
    return undefined
  } catch (err) {
    return `${new URL(url).host}: ${(err as Error).message}`
  } finally {
    redis.disconnect()
  }
}

function redisServerVersion (): string | null {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) return null
  return /v=(\S+)/.exec(probe.stdout)?.[1] ?? 'unknown'
}

/** The run's Redis, or why there is none (the bench then prints a `skipped` line). */
export async function benchRedis (): Promise<BenchRedis | { unavailable: string }> {
  const explicit = process.env.BENCH_REDIS_URL
  const version = explicit === undefined ? redisServerVersion() : null
  if (version !== null) {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'))
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxclients', '10000'], { stdio: 'ignore' })
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGTERM')
        await gone
      }
      rmSync(dir, { recursive: true, force: true })
    }
    try {
      await accepting(port, Date.now() + 5000, 'redis-server')
    } catch (err) {
      await stop()
      return { unavailable: (err as Error).message }
    }
    return { url: `redis://127.0.0.1:${port}`, kind: `private redis-server ${version}`, stop }
  }
  const url = explicit ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const why = await unreachable(url)
  if (why !== undefined) return { unavailable: why }
  return { url, kind: explicit !== undefined ? 'BENCH_REDIS_URL' : 'shared', stop: async () => {} }
}
