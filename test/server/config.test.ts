import t from 'tap'
import { ConfigError, loadConfig } from '../../server/config.ts'

t.test('defaults make a working single-process hub', async (t) => {
  const config = loadConfig({})
  t.equal(config.httpPort, 8080)
  t.equal(config.mqttPort, 1883)
  t.match(config.databaseUrl, /^pglite:\/\/\/.*\/data\/pglite$/)
  t.equal(config.redisUrl, null)
  t.equal(config.logLevel, 'info')
})

t.test('port 0 is accepted (a free port is picked)', async (t) => {
  t.equal(loadConfig({ HUB_MQTT_PORT: '0' }).mqttPort, 0)
})

t.test('every bad value is named, all at once', async (t) => {
  const err = t.throws(() => loadConfig({
    HUB_HTTP_PORT: 'eighty',
    HUB_MQTT_PORT: '70000',
    DATABASE_URL: 'mysql://x',
    REDIS_URL: 'http://x',
    HUB_MQTTS_PORT: '8883',
    HUB_ADMIN_EMAIL: 'not-an-email',
    HUB_ADMIN_PASSWORD: 'short',
    HUB_LOG_LEVEL: 'loud',
    HUB_JWT_SECRET: 'tiny'
  })) as ConfigError
  t.ok(err instanceof ConfigError)
  t.equal(err.code, 'HUB_ERR_CONFIG')
  t.equal(err.problems.length, 9)
  for (const name of ['HUB_HTTP_PORT="eighty"', 'HUB_MQTT_PORT="70000"', 'DATABASE_URL', 'REDIS_URL', 'HUB_TLS_CERT', 'HUB_ADMIN_EMAIL', 'HUB_ADMIN_PASSWORD', 'HUB_LOG_LEVEL', 'HUB_JWT_SECRET']) {
    t.match(err.message, name)
  }
})
