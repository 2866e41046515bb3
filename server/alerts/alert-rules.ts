import { METRIC_KEYS } from '../../protocol/telemetry.ts'
import type { AlertFilter, AlertKind, AlertOp, AlertRuleRow, AlertSeverity } from '../db/schema/index.ts'

/** The telemetry metrics a `metric` rule may watch: the numeric ones (not `rat`, `mcc`, `mnc`). */
export const ALERT_METRICS = METRIC_KEYS.filter((k) => k !== 'rat' && k !== 'mcc' && k !== 'mnc')
export type AlertMetric = typeof ALERT_METRICS[number]

/** Longest `forSeconds` a rule may wait (30 days). */
export const MAX_FOR_SECONDS = 30 * 24 * 3600
/** `offline` rules without `forSeconds` wait this long (5 minutes). */
export const DEFAULT_OFFLINE_SECONDS = 300

/** A rule as the API takes it (POST, or a PATCH merged over the stored rule). */
export interface AlertRuleInput {
  name: string
  kind: AlertKind
  metric?: string | null
  op?: AlertOp | null
  threshold?: number | null
  forSeconds?: number
  severity: AlertSeverity
  filter?: AlertFilter
  enabled?: boolean
}

/** The fields a rule of this kind must have, or why it cannot be one: the one place each kind's shape
 * is stated. Fields a kind does not use are dropped. */
export function normalizeRule (input: AlertRuleInput): { ok: true, rule: Required<AlertRuleInput> } | { ok: false, message: string } {
  const base = { name: input.name, kind: input.kind, severity: input.severity, filter: input.filter ?? {}, enabled: input.enabled ?? true }
  switch (input.kind) {
    case 'metric':
      if (input.metric === undefined || input.metric === null || !(ALERT_METRICS as string[]).includes(input.metric)) {
        return { ok: false, message: `a metric rule needs metric, one of ${ALERT_METRICS.join(', ')}` }
      }
      if (input.op === undefined || input.op === null) return { ok: false, message: 'a metric rule needs op: "<" or ">"' }
      if (input.threshold === undefined || input.threshold === null) return { ok: false, message: 'a metric rule needs a threshold' }
      return { ok: true, rule: { ...base, metric: input.metric, op: input.op, threshold: input.threshold, forSeconds: input.forSeconds ?? 0 } }
    case 'offline':
      return { ok: true, rule: { ...base, metric: null, op: null, threshold: null, forSeconds: input.forSeconds ?? DEFAULT_OFFLINE_SECONDS } }
    case 'data-usage':
      if (input.threshold === undefined || input.threshold === null || input.threshold <= 0 || input.threshold > 1000) {
        return { ok: false, message: 'a data-usage rule needs threshold: the percent of the plan\'s quota (more than 0, at most 1000)' }
      }
      return { ok: true, rule: { ...base, metric: null, op: null, threshold: input.threshold, forSeconds: 0 } }
    case 'notification-rejected':
    case 'command-failed':
      return { ok: true, rule: { ...base, metric: null, op: null, threshold: null, forSeconds: 0 } }
  }
}

/** What the evaluator knows of a device to apply a rule's filter. */
export interface DeviceFacts { tenantId: string, tags: readonly string[], operators: readonly string[], site: string | null, planId: string | null }

/** Every field of the filter must match: a tag the device has, an operator with a (not deleted) profile
 * on its eUICC, the site it is at. */
export function filterMatches (filter: AlertFilter, device: DeviceFacts): boolean {
  if (filter.site !== undefined && device.site !== filter.site) return false
  if (filter.tag !== undefined && !device.tags.includes(filter.tag)) return false
  if (filter.operator !== undefined && !device.operators.includes(filter.operator)) return false
  return true
}

/** Whether a metric value breaks a `metric` rule. */
export function breaches (rule: Pick<AlertRuleRow, 'op' | 'threshold'>, value: number): boolean {
  const threshold = rule.threshold as number
  return rule.op === '<' ? value < threshold : value > threshold
}

/** The alert's text, from the rule and what was observed. */
export function alertMessage (rule: AlertRuleRow, value: number | null): string {
  switch (rule.kind) {
    case 'metric': return `${rule.metric as string} ${value ?? '?'} ${rule.op as string} ${rule.threshold as number}` + (rule.forSeconds > 0 ? ` for ${rule.forSeconds} s` : '')
    case 'offline': return `offline for ${rule.forSeconds} s or more`
    case 'data-usage': return `data usage at ${value === null ? '?' : value.toFixed(1)} % of the plan's quota (rule: ${rule.threshold as number} %)`
    case 'notification-rejected': return 'an eUICC notification was rejected'
    case 'command-failed': return 'a command failed'
  }
}
