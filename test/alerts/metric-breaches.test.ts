// The `metric` condition over batches of samples, as the evaluator feeds it: pure, no hub needed (the
// lifecycle test drives the same rules through a real hub and MQTT).
import t from 'tap'
import type { TelemetryEventData } from '../../protocol/events.ts'
import { followMetricRules, keyOf, type Breach } from '../../server/alerts/metric-breaches.ts'
import type { AlertRuleRow } from '../../server/db/schema/index.ts'

const T0 = Date.parse('2026-12-01T00:00:00.000Z')

function rule (id: string, metric: string, op: '<' | '>', threshold: number, forSeconds: number): AlertRuleRow {
  return { id, tenantId: 't', name: id, kind: 'metric', metric, op, threshold, forSeconds, severity: 'warning', filter: {}, enabled: true, createdAt: new Date(T0), updatedAt: new Date(T0) } as unknown as AlertRuleRow
}

let seq = 0
function sample (atSeconds: number, values: Partial<Record<'rsrp' | 'battery', number>>): TelemetryEventData {
  return { deviceId: 'd', ts: new Date(T0 + atSeconds * 1000).toISOString(), seq: seq++, ...values } as TelemetryEventData
}

/** A device's evaluator state across batches; `run` returns the batch's decisions. */
function follower (rules: AlertRuleRow[]) {
  const breaching = new Map<string, Breach>()
  const active = new Set<string>()
  return {
    breaching,
    run (list: TelemetryEventData[]): Array<[string, boolean, number | null]> {
      const decisions: Array<[string, boolean, number | null]> = []
      followMetricRules(rules, 'd', list, {
        breaching,
        active,
        now: Date.now(),
        decide: (r, deviceId, holds, value) => {
          decisions.push([r.id, holds, value])
          if (holds) active.add(keyOf(r.id, deviceId)); else active.delete(keyOf(r.id, deviceId))
        }
      })
      return decisions
    }
  }
}

t.test('forSeconds 0: raised on the batch that ends breaking, once; resolved when the newest sample clears', async (t) => {
  const f = follower([rule('low', 'battery', '<', 20, 0)])
  t.same(f.run([sample(0, { battery: 50 }), sample(1, { battery: 10 }), sample(2, { battery: 9 })]), [['low', true, 9]])
  t.same(f.run([sample(3, { battery: 8 })]), [], 'already active: no second raise')
  t.same(f.run([sample(4, { battery: 5 }), sample(5, { battery: 60 })]), [['low', false, null]])
  t.same(f.run([sample(6, { battery: 70 })]), [], 'already resolved')
})

t.test('forSeconds: held across batches, by the samples\' own time', async (t) => {
  const f = follower([rule('weak', 'rsrp', '<', -110, 60)])
  t.same(f.run([sample(0, { rsrp: -120 }), sample(30, { rsrp: -121 })]), [], '30 s of 60')
  t.equal(f.breaching.get(keyOf('weak', 'd'))?.since, T0, 'the breach started with the first breaking sample')
  t.same(f.run([sample(61, { rsrp: -119 })]), [['weak', true, -119]], 'held 61 s')
})

t.test('a clearing sample inside a batch starts the clock again and resolves an active alert', async (t) => {
  const f = follower([rule('weak', 'rsrp', '<', -110, 60)])
  t.same(f.run([sample(0, { rsrp: -120 }), sample(70, { rsrp: -120 })]), [['weak', true, -120]])
  t.same(f.run([sample(80, { rsrp: -90 }), sample(90, { rsrp: -120 }), sample(140, { rsrp: -120 })]), [['weak', false, null]],
    'cleared at 80 s; breaking again since 90 s is 50 s, not yet 60')
  t.equal(f.breaching.get(keyOf('weak', 'd'))?.since, T0 + 90_000)
  t.same(f.run([sample(151, { rsrp: -125 })]), [['weak', true, -125]], '61 s since the new start')
})

t.test('samples are taken in time order, not arrival order; samples without the metric are ignored', async (t) => {
  const f = follower([rule('low', 'battery', '<', 20, 0), rule('weak', 'rsrp', '<', -110, 0)])
  // Arrival order: the newest sample (50 s, battery fine) comes first.
  t.same(f.run([sample(50, { battery: 80 }), sample(40, { battery: 5, rsrp: -130 }), sample(45, { battery: 90 })]), [['weak', true, -130]],
    'battery: the newest sample clears it; rsrp: its only sample breaks it')
  t.notOk(f.breaching.has(keyOf('low', 'd')))
})

t.test('a late sample older than the breach does not move its last time back', async (t) => {
  const f = follower([rule('weak', 'rsrp', '<', -110, 3600)])
  f.run([sample(100, { rsrp: -120 }), sample(200, { rsrp: -120 })])
  f.run([sample(150, { rsrp: -130 })])
  const breach = f.breaching.get(keyOf('weak', 'd'))
  t.equal(breach?.since, T0 + 100_000)
  t.equal(breach?.lastTs, T0 + 200_000)
})
