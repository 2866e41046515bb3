import type { TelemetryEventData } from '../../protocol/events.ts'
import type { AlertRuleRow } from '../db/schema/index.ts'
import { breaches } from './alert-rules.ts'

/** A `metric` condition holding: since the sample `since` (device time), last seen breaking at sample
 * time `lastTs`, received at wall-clock `seenAt`. */
export interface Breach { ruleId: string, deviceId: string, since: number, lastTs: number, seenAt: number, value: number }

/** The key of a rule's alert on a device, in the evaluator's maps and sets. */
export const keyOf = (ruleId: string, deviceId: string) => ruleId + '\u0000' + deviceId

export interface MetricState {
  /** The `metric` conditions holding now, by keyOf(rule, device); updated in place. */
  breaching: Map<string, Breach>
  /** The keys of the active alerts. */
  active: ReadonlySet<string>
  /** Wall-clock time of the batch (ms). */
  now: number
  /** Called when a rule's alert is to be raised (holds) or resolved (does not). */
  decide: (rule: AlertRuleRow, deviceId: string, holds: boolean, value: number | null) => void
}

/** One metric's numeric samples of a batch, in time order (sequence number breaking ties). */
interface Series { ts: number[], values: number[] }

/**
 * The `metric` rules (already matched to the device) over one batch of a device's samples, following how
 * long each condition has held in `breaching`; only the state at the end of the batch counts. Raises what
 * has held for forSeconds and is not active; resolves what is active and no longer breaks the rule.
 *
 * The samples are put in time order once per batch and split by metric once; each rule then looks only
 * at the batch's last run of breaking samples (scanning back from the newest), so 100 rules over a batch
 * cost about 100 comparisons per device, not 100 passes over its samples.
 */
export function followMetricRules (rules: readonly AlertRuleRow[], deviceId: string, list: readonly TelemetryEventData[], state: MetricState): void {
  const { breaching, active, now, decide } = state
  const times = list.map((sample) => Date.parse(sample.ts))
  const order = list.map((_, i) => i).sort((a, b) => times[a] - times[b] || list[a].seq - list[b].seq)
  const byMetric = new Map<string, Series>()
  const seriesOf = (metric: keyof TelemetryEventData): Series => {
    let series = byMetric.get(metric)
    if (series === undefined) {
      series = { ts: [], values: [] }
      for (const i of order) {
        const value = list[i][metric]
        if (typeof value === 'number') { series.ts.push(times[i]); series.values.push(value) }
      }
      byMetric.set(metric, series)
    }
    return series
  }
  for (const rule of rules) {
    const { ts, values } = seriesOf(rule.metric as keyof TelemetryEventData)
    const n = ts.length
    if (n === 0) continue
    const key = keyOf(rule.id, deviceId)
    if (!breaches(rule, values[n - 1])) {
      // The newest sample does not break the rule: whatever held has cleared.
      breaching.delete(key)
      if (active.has(key)) decide(rule, deviceId, false, null)
      continue
    }
    let start = n - 1
    while (start > 0 && breaches(rule, values[start - 1])) start--
    // A sample inside the batch that did not break the rule ended any earlier breach.
    let breach = start > 0 ? undefined : breaching.get(key)
    if (breach === undefined) breaching.set(key, breach = { ruleId: rule.id, deviceId, since: ts[start], lastTs: ts[start], seenAt: now, value: values[start] })
    const lastTs = ts[n - 1]
    if (lastTs >= breach.lastTs) { breach.lastTs = lastTs; breach.seenAt = now; breach.value = values[n - 1] }
    if (lastTs - breach.since >= rule.forSeconds * 1000) {
      if (!active.has(key)) decide(rule, deviceId, true, values[n - 1])
    } else if (start > 0 && active.has(key)) {
      decide(rule, deviceId, false, null)
    }
  }
}
