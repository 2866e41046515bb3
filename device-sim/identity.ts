// What makes a simulated device a believable cellular modem with an eUICC: an IMEI and an EID with valid
// check digits, and one to three operator profiles with valid ICCIDs (Luhn), the first one enabled.
import { eidForPrefix, EID_DIGITS } from '../esim/eid.ts'
import { iccidForPrefix, luhnCheckDigit } from '../esim/iccid.ts'
import type { Carrier } from './carriers.ts'
import type { Random } from './random.ts'

export type ProfileState = 'enabled' | 'disabled'

export interface SimProfile {
  iccid: string
  state: ProfileState
  name: string
  spn: string
  /** The ISD-P AID, 16 bytes in hex. */
  aid: string
  fallback?: boolean
}

/** Type Allocation Codes for the simulated modules (8 digits; made up in the style of IoT modules). */
const TACS = ['86135805', '86769203', '35270911', '86437106', '35832110']
const ISDP_AID_PREFIX = 'A0000005591010FFFFFFFF890000'
/** Profiles an eUICC of the simulator can hold before a download fails for lack of memory. */
export const MAX_PROFILES = 8

/** 15 digits: TAC, 6-digit serial, Luhn check digit. */
export function newImei (rng: Random): string {
  const body = rng.pick(TACS) + rng.digits(6)
  return body + luhnCheckDigit(body)
}

/** A random valid EID under the EUM's prefix. */
export function newEid (rng: Random, eumPrefix: string): string {
  const width = EID_DIGITS - 2 - eumPrefix.length
  return eidForPrefix(eumPrefix, BigInt(rng.digits(width)))
}

/** A valid 19-digit ICCID of `carrier`. */
export function newIccid (rng: Random, carrier: Carrier): string {
  return iccidForPrefix(carrier.iccidPrefix, BigInt(rng.digits(18 - carrier.iccidPrefix.length)), 19)
}

/** The ISD-P AID of the n-th profile slot (A0000005591010FFFFFFFF8900001000, …1100, …). */
export function isdpAid (slot: number): string {
  return ISDP_AID_PREFIX + (0x10 + slot).toString(16).toUpperCase().padStart(2, '0') + '00'
}

export function newProfile (rng: Random, carrier: Carrier, slot: number, state: ProfileState = 'disabled'): SimProfile {
  return { iccid: newIccid(rng, carrier), state, name: `${carrier.name} IoT`, spn: carrier.name, aid: isdpAid(slot) }
}

/** One to three profiles of different carriers (as many as there are carriers), the first enabled. */
export function newProfiles (rng: Random, carriers: readonly Carrier[]): SimProfile[] {
  const count = Math.min(carriers.length, rng.int(1, 3))
  const pool = [...carriers]
  const profiles: SimProfile[] = []
  for (let slot = 0; slot < count; slot++) {
    const carrier = pool.splice(rng.int(0, pool.length - 1), 1)[0]!
    profiles.push(newProfile(rng, carrier, slot, slot === 0 ? 'enabled' : 'disabled'))
  }
  return profiles
}
