import cluster from 'node:cluster'
import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import type { BootstrapResult } from './auth/admin-bootstrap.ts'
import { loadConfig } from './config.ts'
import { ConfigError } from './errors.ts'
import { startHub } from './hub.ts'
import { prepareForWorkers, reportListening, runPrimary } from './workers.ts'

/** Entry point: configuration, logger, graceful shutdown, listen; with HUB_WORKERS > 1 the primary
 * prepares the database and forks the workers (server/workers.ts), each of which runs the hub. */
async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n')
      process.exit(2)
    }
    throw err
  }
  const logger = pino({ level: config.logLevel })
  if (config.workers > 1 && cluster.isPrimary) {
    let bootstrap
    try {
      bootstrap = await prepareForWorkers(config)
    } catch (err) {
      const e = err as Error & { code?: string }
      logger.fatal({ code: e.code }, e.message)
      process.exit(1)
    }
    printFirstStart(bootstrap)
    let printed = false
    const code = await runPrimary(config, logger, (report) => {
      logger.info({ worker: report.pid, workers: config.workers }, 'hub worker listening')
      if (!printed) { printed = true; printUrls(report.httpUrl, report.mqttUrl) }
    })
    process.exit(code)
  }
  let hub
  try {
    hub = await startHub(config, { logger })
  } catch (err) {
    const e = err as Error & { code?: string }
    logger.fatal({ code: e.code }, e.message)
    process.exit(1)
  }
  if (cluster.isWorker) {
    reportListening(hub.httpUrl, hub.mqttUrl)
  } else {
    printFirstStart(hub.bootstrap)
    printUrls(hub.httpUrl, hub.mqttUrl)
  }
  const running = hub
  closeWithGrace({ delay: 10_000, logger }, async ({ err, signal }) => {
    if (err !== undefined) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await running.close()
  })
}

function printFirstStart (bootstrap: BootstrapResult): void {
  const created = bootstrap.created
  if (created === null) return
  const lines = [`First start: admin account ${created.email}`]
  if (created.generatedPassword !== null) lines.push(`password: ${created.generatedPassword}  (shown once; set HUB_ADMIN_PASSWORD to choose it)`)
  process.stdout.write('\n' + lines.join('\n') + '\n\n')
}

function printUrls (httpUrl: string, mqttUrl: string): void {
  process.stdout.write(`Dashboard ${httpUrl}/   API ${httpUrl}/api   OpenAPI ${httpUrl}/docs   MQTT ${mqttUrl}   MQTT/WebSocket ${httpUrl.replace('http', 'ws')}/mqtt\n`)
}

await main()
