// The operators a simulated eUICC carries profiles of. Myanmar's four (DESIGN.md "Carriers") are the
// default. The ICCID issuer prefix is 89 (telecom) + 95 (Myanmar) + the MNC, as the hub's carrier table
// maps ICCIDs; bands are the LTE/NB-IoT/NR bands those networks are known to use, for believable
// telemetry, not a statement about any network's current deployment.

export type Rat = 'LTE' | 'LTE-M' | 'NB-IoT' | 'NR'

export interface Carrier {
  key: string
  name: string
  mcc: string
  mnc: string
  /** ICCID digits before the serial: 89 + country + issuer. */
  iccidPrefix: string
  /** The SM-DP+ its profiles come from, used as the notification address. */
  smdpAddress: string
  rats: readonly Rat[]
  bands: Readonly<Record<Rat, readonly number[]>>
}

export const CARRIERS: readonly Carrier[] = [
  {
    key: 'mpt',
    name: 'MPT',
    mcc: '414',
    mnc: '01',
    iccidPrefix: '899501',
    smdpAddress: 'smdp.mpt.example.net',
    rats: ['LTE', 'LTE-M', 'NB-IoT'],
    bands: { LTE: [3, 28], 'LTE-M': [3, 28], 'NB-IoT': [8, 28], NR: [] }
  },
  {
    key: 'ooredoo',
    name: 'Ooredoo Myanmar',
    mcc: '414',
    mnc: '05',
    iccidPrefix: '899505',
    smdpAddress: 'smdp.ooredoo.example.net',
    rats: ['LTE', 'NR'],
    bands: { LTE: [1, 3], 'LTE-M': [], 'NB-IoT': [], NR: [78] }
  },
  {
    key: 'atom',
    name: 'ATOM',
    mcc: '414',
    mnc: '06',
    iccidPrefix: '899506',
    smdpAddress: 'smdp.atom.example.net',
    rats: ['LTE', 'LTE-M', 'NR'],
    bands: { LTE: [3, 8], 'LTE-M': [8], 'NB-IoT': [], NR: [41] }
  },
  {
    key: 'mytel',
    name: 'Mytel',
    mcc: '414',
    mnc: '09',
    iccidPrefix: '899509',
    smdpAddress: 'smdp.mytel.example.net',
    rats: ['LTE', 'NB-IoT'],
    bands: { LTE: [3, 28], 'LTE-M': [], 'NB-IoT': [28], NR: [] }
  }
]

export const CARRIER_KEYS = CARRIERS.map((c) => c.key)

export function carrierByKey (key: string): Carrier | undefined {
  return CARRIERS.find((c) => c.key === key)
}

/** The carrier an ICCID belongs to, by its issuer prefix. */
export function carrierOfIccid (iccid: string, carriers: readonly Carrier[] = CARRIERS): Carrier | undefined {
  return carriers.find((c) => iccid.startsWith(c.iccidPrefix))
}
