import { connect as tcpConnect } from 'node:net'
import mqttPacket from 'mqtt-packet'
import pino from 'pino'
import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { startPrivateRedis, skipPrivateRedis } from '../helpers/private-redis.ts'
import { connectPacket } from '../helpers/raw-mqtt.ts'
import { startTestHub, throwawayDatabase, type Teardown, type TestHub } from '../helpers/test-hub.ts'

// HUB_CONNECT_RATE_PER_IP with Redis (docs/scale-out.md): one bucket per source address for every hub
// process, asked after each process's own; Redis slow or gone: each process's own bucket decides alone.
// Nothing here depends on the machine's speed: a burst is counted, and the most it may be served is the
// bucket (the limit) plus what it refilled while the burst lasted, measured.

const LIMIT = 5
const BURST = 20

/** A CONNECT with wrong credentials: the hub answers CONNACK 4, which proves the socket was served. */
const probeConnect = mqttPacket.generate(connectPacket({ clientId: 'probe', username: 'probe', password: Buffer.from('wrong') }) as unknown as mqttPacket.Packet)

interface Burst { served: number[], refused: number, ms: number }

/** Opens `count` connections from `from` as fast as it can, to `ports` in turn, each sending its CONNECT
 * as soon as it is open (before the hub's verdict on it); counts per port those served (an answer came)
 * and those closed unanswered, and how long it took until every one was decided. */
async function burst (ports: number[], from: string, count: number): Promise<Burst> {
  const started = Date.now()
  const verdicts = await Promise.all(Array.from({ length: count }, async (_v, i) => {
    const port = ports[i % ports.length]
    const served = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port, localAddress: from })
      socket.on('error', () => {})
      socket.once('connect', () => socket.write(probeConnect))
      socket.once('data', () => { resolve(true); socket.destroy() })
      socket.once('close', () => resolve(false))
    })
    return { port, served }
  }))
  return {
    served: ports.map((port) => verdicts.filter((v) => v.port === port && v.served).length),
    refused: verdicts.filter((v) => !v.served).length,
    ms: Date.now() - started
  }
}

/** The most a bucket of LIMIT refilling at LIMIT a second can let through in `ms`. */
const most = (ms: number): number => Math.floor(LIMIT * (1 + ms / 1000))
const sum = (counts: number[]): number => counts.reduce((a, b) => a + b, 0)

async function metric (hub: TestHub, line: string): Promise<number> {
  const text = await (await fetch(hub.httpUrl + '/metrics')).text()
  return Number(text.split('\n').find((l) => l.startsWith(line + ' '))?.split(' ')[1] ?? 0)
}

/** A hub with HUB_CONNECT_RATE_PER_IP=LIMIT whose warnings are kept in `warnings`; stopped at `t`'s teardown. */
async function rateLimitedHub (t: Teardown, env: Record<string, string>, warnings: string[]): Promise<TestHub> {
  const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line) } })
  return await startTestHub(t, { env: { HUB_CONNECT_RATE_PER_IP: String(LIMIT), ...env }, logger })
}

const outageWarnings = (warnings: string[]): number => warnings.filter((l) => l.includes('connection rate: Redis unavailable')).length

t.test('two hubs on one Redis: HUB_CONNECT_RATE_PER_IP is one budget for an address across both', {
  skip: process.env.REDIS_URL === undefined || process.env.DATABASE_URL === undefined ? 'needs a Postgres DATABASE_URL and REDIS_URL (two hubs share them)' : false
}, async (t) => {
  // One database: one installation id, so both count under the same Redis key.
  const shared = await throwawayDatabase(t)
  const warnings: string[] = []
  const a = await rateLimitedHub(t, { DATABASE_URL: shared }, warnings)
  const b = await rateLimitedHub(t, { DATABASE_URL: shared }, warnings)
  const { served, refused, ms } = await burst([a.mqttPort, b.mqttPort], '127.0.0.6', BURST)
  const total = sum(served)
  // Each hub's own bucket passes its first LIMIT (2 × LIMIT in all); the shared one passes LIMIT of them.
  t.ok(total >= LIMIT, `at least the shared bucket's ${LIMIT} are served (${served.join(' + ')})`)
  if (outageWarnings(warnings) === 0) {
    t.ok(total <= most(ms), `at most ${most(ms)} of ${BURST} served in ${ms} ms across both hubs, not ${LIMIT} on each: ${served.join(' + ')}`)
  } else {
    // Redis did not answer within its bound (a machine stalled for a second): each hub decided alone.
    t.comment('Redis did not answer in time: the shared bucket was not asked for some connections')
    t.ok(served.every((n) => n <= most(ms)), `each hub served at most its own ${most(ms)} in ${ms} ms: ${served.join(' + ')}`)
  }
  const rejections = await metric(a, 'hub_mqtt_stream_rejections_total{reason="connect-rate"}') + await metric(b, 'hub_mqtt_stream_rejections_total{reason="connect-rate"}')
  t.equal(rejections, refused, `the ${refused} refused are counted by the hub that refused each`)

  // Another address has its own budget, on both hubs.
  const other = await burst([a.mqttPort, b.mqttPort], '127.0.0.7', 2)
  t.same(other.served, [1, 1], 'another address is served on either hub')
  await eventually('no socket left counted', async () => await metric(a, 'hub_mqtt_connections') === 0 && await metric(b, 'hub_mqtt_connections') === 0)
})

t.test('Redis slow, then gone: the hub decides new connections from its own bucket, and says so once', { skip: skipPrivateRedis }, async (t) => {
  const redis = await startPrivateRedis(t)
  const warnings: string[] = []
  const hub = await rateLimitedHub(t, { REDIS_URL: redis.url }, warnings)

  const up = await burst([hub.mqttPort], '127.0.0.8', BURST)
  t.ok(up.served[0] >= LIMIT && up.served[0] <= most(up.ms), `Redis up: ${up.served[0]} of ${BURST} served in ${up.ms} ms (${LIMIT} to ${most(up.ms)})`)
  t.equal(outageWarnings(warnings), 0, 'nothing reported while Redis answers')

  // Slow: the process is stopped, its connections stay open and nothing answers. Each verdict waits for
  // the bound, then this hub's bucket decides; the CONNECTs sent meanwhile are read then, not lost.
  await eventually('the sockets of the first burst closed', async () => await metric(hub, 'hub_mqtt_connections') === 0)
  redis.server.kill('SIGSTOP')
  // A socket reset while its verdict is awaited (counted as open, not yet served): the ECONNRESET does
  // not escape, and it leaves the count.
  const reset = tcpConnect({ host: '127.0.0.1', port: hub.mqttPort, localAddress: '127.0.0.9' })
  reset.on('error', () => {})
  await new Promise<void>((resolve) => reset.once('connect', () => resolve()))
  reset.write(probeConnect)
  await eventually('the socket to reset accepted', async () => await metric(hub, 'hub_mqtt_connections') === 1)
  reset.resetAndDestroy()
  const slow = await burst([hub.mqttPort], '127.0.0.10', BURST)
  t.ok(slow.served[0] >= LIMIT && slow.served[0] <= most(slow.ms), `Redis slow: ${slow.served[0]} of ${BURST} served in ${slow.ms} ms by the hub's own bucket`)

  // Gone: killed; the hub hears of it at once or at the bound, and decides alone again.
  redis.server.kill('SIGKILL')
  await new Promise<void>((resolve) => { if (redis.server.exitCode !== null || redis.server.signalCode !== null) resolve(); else redis.server.once('exit', () => resolve()) })
  const gone = await burst([hub.mqttPort], '127.0.0.11', BURST)
  t.ok(gone.served[0] >= LIMIT && gone.served[0] <= most(gone.ms), `Redis gone: ${gone.served[0]} of ${BURST} served in ${gone.ms} ms by the hub's own bucket`)

  t.equal(outageWarnings(warnings), 1, `the outage is reported once, not per connection (${outageWarnings(warnings)} warnings)`)
  const refused = up.refused + slow.refused + gone.refused
  t.equal(await metric(hub, 'hub_mqtt_stream_rejections_total{reason="connect-rate"}'), refused, `the ${refused} refused are counted`)
  await eventually('no socket left counted', async () => await metric(hub, 'hub_mqtt_connections') === 0)
  t.pass('hub_mqtt_connections back at 0, the reset socket included')
})
