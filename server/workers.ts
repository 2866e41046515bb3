import cluster, { type Worker } from 'node:cluster'
import type { Logger } from 'pino'
import { bootstrapAdmin, type BootstrapResult } from './auth/admin-bootstrap.ts'
import type { HubConfig } from './config.ts'
import { openDatabase } from './db/database.ts'
import { UserRepository } from './repositories/user-repository.ts'

/** What a worker tells the primary once its listeners are open. */
export interface WorkerListening { type: 'hub-listening', httpUrl: string, mqttUrl: string, pid: number }

/** A worker that dies is started again after this long (a crash loop is slowed down, never given up). */
const RESTART_DELAY_MS = 1000
/** How long the primary waits for its workers' own graceful close (theirs is 10 s) before killing them. */
const STOP_GRACE_MS = 15_000

/** Before any worker starts: the migrations and the first admin, once (the workers then find both done,
 * so N processes never race to create the first admin or print N generated passwords). */
export async function prepareForWorkers (config: HubConfig): Promise<BootstrapResult> {
  const database = await openDatabase(config.databaseUrl, { poolSize: 2 }) // migrate() holds one for its lock
  try {
    return await bootstrapAdmin(new UserRepository(database), config.adminEmail, config.adminPassword)
  } finally {
    await database.close()
  }
}

/** The primary of `HUB_WORKERS` > 1 (node:cluster): forks `config.workers` hub processes, which share the
 * HTTP, MQTT and HTTPS ports (the primary accepts and hands connections round-robin); restarts a worker
 * that dies once it has served; on SIGTERM or SIGINT stops every worker with grace. A worker that fails
 * to start (bad database, port in use) stops the whole hub: restarting would fail the same way.
 * `onListening` hears each worker's first listening report. Resolves with the exit code. */
export function runPrimary (config: HubConfig, logger: Logger, onListening: (report: WorkerListening) => void): Promise<number> {
  let stopping = false
  const started = new WeakSet<Worker>()
  let resolveExit: (code: number) => void = () => {}
  const exited = new Promise<number>((resolve) => { resolveExit = resolve })

  const fork = (): void => {
    const worker = cluster.fork()
    worker.on('message', (message: WorkerListening) => {
      if (message?.type !== 'hub-listening') return
      started.add(worker)
      onListening(message)
    })
  }

  const stopAll = (code: number): void => {
    if (stopping) return
    stopping = true
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined)
    logger.info({ workers: workers.length }, 'stopping the hub workers')
    for (const worker of workers) worker.process.kill('SIGTERM')
    const deadline = setTimeout(() => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL')
    }, STOP_GRACE_MS)
    deadline.unref()
    const check = (): void => {
      if (Object.keys(cluster.workers ?? {}).length > 0) return
      clearTimeout(deadline)
      resolveExit(code)
    }
    cluster.on('exit', check)
    check()
  }

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return
    if (!started.has(worker)) {
      logger.fatal({ pid: worker.process.pid, code, signal }, 'a hub worker failed to start: stopping the hub')
      stopAll(1)
      return
    }
    logger.error({ pid: worker.process.pid, code, signal }, `a hub worker died: starting another in ${RESTART_DELAY_MS} ms`)
    setTimeout(() => { if (!stopping) fork() }, RESTART_DELAY_MS)
  })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      logger.info({ signal }, 'shutting down')
      stopAll(0)
    })
  }
  for (let i = 0; i < config.workers; i++) fork()
  return exited
}

/** In a worker: tells the primary the hub is listening (nothing outside a cluster). */
export function reportListening (httpUrl: string, mqttUrl: string): void {
  if (cluster.isWorker && process.send !== undefined) {
    process.send({ type: 'hub-listening', httpUrl, mqttUrl, pid: process.pid } satisfies WorkerListening)
  }
}
