import { cpus, loadavg } from 'node:os'
import { PGLITE_STORAGE } from './pglite-storage.ts'

/** The one JSON line a bench prints. Every target is a check: a figure against a reference measured in
 * the same run (`ratio` = figure / reference, `target` the least ratio allowed), or a figure against a
 * bound (`atMost`: a latency or a size, `target` the bound itself, no reference). `score` puts both on
 * one scale for the chart: ≥ 1 passes (ratio / target, or bound / figure). */
export interface Check {
  /** What is measured: `hubRate`, `p99Ms`, `perSecond`… */
  metric: string
  value: number
  unit: string
  /** The same-run reference and its figure (absent for a bound). */
  reference?: string
  referenceValue?: number
  /** value / referenceValue. */
  ratio?: number
  /** The least ratio (`atLeast`) or the greatest value (`atMost`). */
  target: number
  kind: 'atLeast' | 'atMost'
  score: number
  pass: boolean
}

const round = (n: number, digits = 3): number => Number(n.toFixed(digits))

/** A figure that must be at least `target` × a reference from the same run. */
export function ratioCheck (metric: string, value: number, unit: string, reference: string, referenceValue: number, target: number): Check {
  const ratio = referenceValue > 0 ? value / referenceValue : 0
  return { metric, value: round(value, 1), unit, reference, referenceValue: round(referenceValue, 1), ratio: round(ratio), target, kind: 'atLeast', score: round(ratio / target), pass: ratio >= target }
}

/** A figure that must be at most `bound`. */
export function boundCheck (metric: string, value: number, unit: string, bound: number): Check {
  return { metric, value: round(value, 2), unit, target: bound, kind: 'atMost', score: round(value > 0 ? bound / value : 99), pass: value <= bound }
}

/** A check that could not be measured in this run (`why` goes into the line). */
export function missingCheck (metric: string, unit: string, reference: string, target: number, why: string): Check & { missing: string } {
  return { metric, value: 0, unit, reference, target, kind: 'atLeast', score: 0, pass: false, missing: why }
}

/** Prints the line: `bench`, the details, the checks, and `pass` (every measured check passes; a check
 * that could not be measured is named in `missing` and leaves `pass` to the others). */
export function printLine (bench: string, details: Record<string, unknown>, checks: Check[]): void {
  const measured = checks.filter((c) => !('missing' in c))
  const missing = checks.filter((c) => 'missing' in c).map((c) => c.metric)
  const list = cpus()
  const run = { at: new Date().toISOString(), machine: `${list[0]?.model.trim() ?? 'unknown CPU'} × ${list.length}`, node: process.version, loadAverage: Number(loadavg()[0].toFixed(2)) }
  const storage = details.database === 'pglite' ? { pgliteStorage: PGLITE_STORAGE } : {}
  console.log(JSON.stringify({ bench, ...details, ...storage, checks, pass: measured.length > 0 && measured.every((c) => c.pass), ...(missing.length > 0 ? { missing } : {}), ...run }))
}
