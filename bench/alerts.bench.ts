import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import { alertRules } from '../server/db/schema/index.ts'
import { startBenchHub, type BenchHub } from './bench-hub.ts'
import { printLine, ratioCheck } from './bench-line.ts'
import { runLoad } from './run-load.ts'

/** Alert evaluation off the ingest path: the durable-ingest load (QoS 1 telemetry, each PUBACK after the
 * commit) on one hub, first with no alert rule, then with 100 enabled rules of the tenant evaluated on
 * every sample (90 that the load never breaks, 10 it breaks on every device: 1,000 alerts raised once),
 * alternating.
 * The target: the rate with the rules is at least 0.9 of the rate without, in the same run. */
const DEVICES = Number(process.env.BENCH_DEVICES ?? 100)
const PER_DEVICE = Number(process.env.BENCH_PER_DEVICE ?? 600)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 20)
const RULES = Number(process.env.BENCH_ALERT_RULES ?? 100)
const BREAKING = Math.min(10, RULES)
const TARGET = 0.9

async function ingestRate (bench: BenchHub, devices: Array<{ clientId: string, username: string, password: string, topic: string }>, baseTs: number): Promise<{ rate: number, acked: number }> {
  const load = await runLoad({ url: bench.hub.mqttUrl, devices, perDevice: PER_DEVICE, window: WINDOW, baseTs })
  return { rate: load.acked / ((load.endedAt - load.startedAt) / 1000), acked: load.acked }
}

const bench = await startBenchHub()
try {
  const devices: Array<{ clientId: string, username: string, password: string, topic: string }> = []
  for (let i = 0; i < DEVICES; i++) {
    const credentials = await bench.createDevice({ name: `bench ${i}` })
    devices.push({ ...credentials, topic: `devices/${credentials.clientId}/telemetry` })
  }
  // A warm-up the size of one tenth of the load, so that neither measured run pays for the first.
  await runLoad({ url: bench.hub.mqttUrl, devices, perDevice: Math.ceil(PER_DEVICE / 10), window: WINDOW, baseTs: Date.now() - 9e6 })

  // The load's samples: rsrp -90…-109, rsrq -10, sinr 12, battery 80.
  const rules = Array.from({ length: RULES }, (_, i) => i < BREAKING
    ? { metric: 'battery', op: '>' as const, threshold: 50 + i }
    : { metric: ['rsrp', 'rsrq', 'sinr', 'battery'][i % 4], op: '<' as const, threshold: [-150, -40, -25, 1][i % 4] - (i % 7) })
  if (rules.length > 0) {
    await bench.hub.database.db.insert(alertRules).values(rules.map((r, i) => ({
      id: randomUUID(), tenantId: bench.tenantId, name: `bench rule ${i}`, kind: 'metric' as const, ...r, forSeconds: 0, severity: 'warning' as const, enabled: false
    })))
  }
  // The machine's speed drifts between runs by more than the effect measured: the two conditions
  // alternate (A B B A A B B A A B, five runs each) and each one's median counts. The evaluator reads the rules at its sweep
  // (every 5 s), so each switch waits for one.
  let baseTs = Date.now() - 8e6
  const rates: Record<'none' | 'rules', number[]> = { none: [], rules: [] }
  let acked = 0
  let current: 'none' | 'rules' = 'none'
  for (const phase of ['none', 'rules', 'rules', 'none', 'none', 'rules', 'rules', 'none', 'none', 'rules'] as const) {
    if (phase !== current) {
      await bench.hub.database.rows(sql`update alert_rules set enabled = ${phase === 'rules'}`)
      await new Promise((resolve) => setTimeout(resolve, 6000))
      current = phase
    }
    const run = await ingestRate(bench, devices, baseTs)
    baseTs += PER_DEVICE + 1000
    rates[phase].push(run.rate)
    acked += run.acked
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
  const none = { rate: median(rates.none) }
  const withRules = { rate: median(rates.rules) }
  const [{ alerts }] = await bench.hub.database.rows<{ alerts: number }>(sql`select count(*)::int as alerts from alerts`)
  printLine('alerts', {
    devices: DEVICES,
    messages: DEVICES * PER_DEVICE,
    window: WINDOW,
    database: bench.hub.database.driver,
    rules: RULES,
    breakingRules: BREAKING,
    rateWithoutRules: Math.round(none.rate),
    rateWithRules: Math.round(withRules.rate),
    ratio: Number((withRules.rate / none.rate).toFixed(3)),
    alertsRaised: alerts,
    runsWithoutRules: rates.none.map(Math.round),
    runsWithRules: rates.rules.map(Math.round),
    acked
  }, [ratioCheck('hubRate', withRules.rate, 'msg/s', 'the same hub with no alert rule', none.rate, TARGET)])
} finally {
  await bench.close()
}
