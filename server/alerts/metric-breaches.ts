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

/**
 * The `metric` rules (already matched to the device) over one batch of a device's samples: per rule,
 * one pass over the samples in time order (sequence number breaking ties), following how long the
 * condition has held in `breaching`; only the state at the end counts. Raises what has held for
 * forSeconds and is not active; resolves what is active and no longer breaks the rule.
 */
export function followMetricRules (rules: readonly AlertRuleRow[], deviceId: string, list: readonly TelemetryEventData[], state: MetricState): void {
  const { breaching, active, now, decide } = state
  const times = list.map((sample) => Date.parse(sample.ts))
  const order = list.map((_, i) => i).sort((a, b) => times[a] - times[b] || list[a].seq - list[b].seq)
  for (const rule of rules) {
    const key = keyOf(rule.id, deviceId)
    const metric = rule.metric as keyof TelemetryEventData
    const forMs = rule.forSeconds * 1000
    let breach = breaching.get(key)
    let outcome: 'holds' | 'clear' | null = null
    let last = 0
    for (const i of order) {
      const value = list[i][metric]
      if (typeof value !== 'number') continue
      const ts = times[i]
      if (breaches(rule, value)) {
        if (breach === undefined) breaching.set(key, breach = { ruleId: rule.id, deviceId, since: ts, lastTs: ts, seenAt: now, value })
        if (ts >= breach.lastTs) { breach.lastTs = ts; breach.seenAt = now; breach.value = value }
        if (ts - breach.since >= forMs) { outcome = 'holds'; last = value }
      } else {
        if (breach !== undefined) { breaching.delete(key); breach = undefined }
        outcome = 'clear'
      }
    }
    if (outcome === 'holds') {
      if (!active.has(key)) decide(rule, deviceId, true, last)
    } else if (outcome === 'clear' && active.has(key)) {
      decide(rule, deviceId, false, null)
    }
  }
}
