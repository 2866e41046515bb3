import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { loadConfig } from './config.ts'
import { ConfigError } from './errors.ts'
import { startHub } from './hub.ts'

/** Entry point: configuration, logger, graceful shutdown, listen. */
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
  let hub
  try {
    hub = await startHub(config, { logger })
  } catch (err) {
    const e = err as Error & { code?: string }
    logger.fatal({ code: e.code }, e.message)
    process.exit(1)
  }
  const created = hub.bootstrap.created
  if (created !== null) {
    const lines = [`First start: admin account ${created.email}`]
    if (created.generatedPassword !== null) lines.push(`password: ${created.generatedPassword}  (shown once; set HUB_ADMIN_PASSWORD to choose it)`)
    process.stdout.write('\n' + lines.join('\n') + '\n\n')
  }
  process.stdout.write(`Dashboard ${hub.httpUrl}/   API ${hub.httpUrl}/api   OpenAPI ${hub.httpUrl}/docs   MQTT ${hub.mqttUrl}   MQTT/WebSocket ${hub.httpUrl.replace('http', 'ws')}/mqtt\n`)
  const running = hub
  closeWithGrace({ delay: 10_000, logger }, async ({ err, signal }) => {
    if (err !== undefined) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await running.close()
  })
}

await main()
