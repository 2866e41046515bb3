import t from 'tap'
import { loadConfig } from '../../server/config.ts'
import { ConfigError } from '../../server/errors.ts'

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

t.test('the broker limits are environment variables, validated, 0 turning one off', async (t) => {
  const defaults = loadConfig({})
  t.same([defaults.devicePublishRate, defaults.devicePublishBurst, defaults.connectRatePerIp, defaults.mqttMaxFrameBytes], [50, 200, 50, 1024 * 1024])
  const off = loadConfig({ HUB_DEVICE_PUBLISH_RATE: '0', HUB_DEVICE_PUBLISH_BURST: '0', HUB_CONNECT_RATE_PER_IP: '0', HUB_MQTT_MAX_FRAME_BYTES: '2097152' })
  t.same([off.devicePublishRate, off.devicePublishBurst, off.connectRatePerIp, off.mqttMaxFrameBytes], [0, 0, 0, 2097152])
  const err = t.throws(() => loadConfig({
    HUB_DEVICE_PUBLISH_RATE: 'fast',
    HUB_DEVICE_PUBLISH_BURST: '-1',
    HUB_CONNECT_RATE_PER_IP: '1.5',
    HUB_MQTT_MAX_FRAME_BYTES: '1000',
    HUB_TRUST_PROXY: 'the proxy',
    HUB_METRICS_TOKEN: 'short'
  })) as ConfigError
  t.equal(err.problems.length, 6)
  for (const name of ['HUB_DEVICE_PUBLISH_RATE', 'HUB_DEVICE_PUBLISH_BURST', 'HUB_CONNECT_RATE_PER_IP', 'HUB_MQTT_MAX_FRAME_BYTES', 'HUB_TRUST_PROXY', 'HUB_METRICS_TOKEN']) t.match(err.message, name)
  t.throws(() => loadConfig({ HUB_DEVICE_PUBLISH_BURST: '0' }), /HUB_DEVICE_PUBLISH_BURST=0/, 'a rate with no burst would refuse everything')
  t.same(loadConfig({ HUB_TRUST_PROXY: '10.0.0.1, 192.168.0.0/16' }).trustProxy, ['10.0.0.1', '192.168.0.0/16'])
  t.equal(loadConfig({ HUB_TRUST_PROXY: '1' }).trustProxy, true)
})

t.test('HUB_WORKERS: 1 by default; more needs Postgres and Redis, each missing one named', async (t) => {
  t.equal(loadConfig({}).workers, 1)
  t.equal(loadConfig({ HUB_WORKERS: '4', DATABASE_URL: 'postgres://db/hub', REDIS_URL: 'redis://r:6379' }).workers, 4)
  const err = t.throws(() => loadConfig({ HUB_WORKERS: '2' })) as Error
  t.match(err.message, /HUB_WORKERS=2 needs DATABASE_URL/)
  t.match(err.message, /HUB_WORKERS=2 needs REDIS_URL/)
  t.throws(() => loadConfig({ HUB_WORKERS: '2', DATABASE_URL: 'pglite://memory', REDIS_URL: 'redis://r' }), /Postgres/)
  for (const bad of ['0', 'many', '65', '1.5']) t.throws(() => loadConfig({ HUB_WORKERS: bad }), /HUB_WORKERS="/, bad)
})
