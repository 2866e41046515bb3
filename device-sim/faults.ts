// --faults: misbehaviour injected to test a hub. Each fault has a probability per occasion:
//   bad-signature  per notification: the eUICC signature is corrupted (the hub must reject it)
//   duplicate      per notification publish: the same bytes are published twice
//   out-of-order   per batch of notifications: sent highest sequence number first
//   fail-ops       per command: the eUICC refuses (CAT busy, policy) or a download fails
//   disconnect     per telemetry interval: the TCP connection is dropped without DISCONNECT

export const FAULT_KINDS = ['bad-signature', 'duplicate', 'out-of-order', 'fail-ops', 'disconnect'] as const
export type FaultKind = typeof FAULT_KINDS[number]
export type Faults = Partial<Record<FaultKind, number>>

export const DEFAULT_FAULT_RATES: Readonly<Record<FaultKind, number>> = {
  'bad-signature': 0.1,
  duplicate: 0.1,
  'out-of-order': 0.3,
  'fail-ops': 0.2,
  disconnect: 0.01
}

/** Parses `kind[=probability],…`; throws RangeError naming the bad part. */
export function parseFaults (spec: string): Faults {
  const faults: Faults = {}
  for (const part of spec.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const [kind, rate, ...rest] = part.split('=')
    if (!(FAULT_KINDS as readonly string[]).includes(kind!) || rest.length > 0) {
      throw new RangeError(`unknown fault "${part}" (known: ${FAULT_KINDS.join(', ')}, each optionally =probability)`)
    }
    const p = rate === undefined ? DEFAULT_FAULT_RATES[kind as FaultKind] : Number(rate)
    if (rate !== undefined && (rate.trim() === '' || !Number.isFinite(p) || p < 0 || p > 1)) {
      throw new RangeError(`fault "${part}": the probability must be a number from 0 to 1`)
    }
    faults[kind as FaultKind] = p
  }
  return faults
}

export function formatFaults (faults: Faults): string {
  return Object.entries(faults).map(([k, p]) => `${k}=${p}`).join(',')
}
