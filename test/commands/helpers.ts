import { eidForPrefix } from '../../esim/eid.ts'
import { createTestPki, issueEuiccCertificate, type TestPki } from '../../esim/test-pki.ts'
import type { SimProfile } from '../../device-sim/identity.ts'
import { isdpAid } from '../../device-sim/identity.ts'
import { toPem } from '../helpers/euicc-fixtures.ts'
import { eventually } from '../helpers/eventually.ts'
import type { CommandView } from '../helpers/hub-client.ts'
import { SimulatedDevice, type SimulatedDeviceOptions } from '../helpers/simulated-device.ts'
import type { TestHub } from '../helpers/test-hub.ts'

export const ICCID_A = '8995050000000000011'
export const ICCID_B = '8995050000000000029'
export const TERMINAL = ['succeeded', 'failed', 'expired', 'cancelled']

let serial = 1000n
export const nextEid = (): string => eidForPrefix('89049032', serial++)

/** Two Ooredoo profiles, A enabled. */
export const defaultProfiles = (): SimProfile[] => [
  { iccid: ICCID_A, state: 'enabled', name: 'Ooredoo IoT', spn: 'Ooredoo', aid: isdpAid(0) },
  { iccid: ICCID_B, state: 'disabled', name: 'Ooredoo IoT', spn: 'Ooredoo', aid: isdpAid(1) }
]

/** Waits until a command's status is one of `statuses`. */
export async function waitCommand (hub: TestHub, token: string, id: string, statuses: string[] = TERMINAL, timeoutMs = 20_000): Promise<CommandView> {
  let last: CommandView | undefined
  try {
    return await eventually(`command ${id} ${statuses.join('|')}`, async () => {
      last = (await hub.api<CommandView>(token, 'GET', `/api/commands/${id}`)).body
      return statuses.includes(last?.status) && last
    }, timeoutMs)
  } catch (err) {
    throw new Error(`command ${id} is ${last?.status}, not ${statuses.join('|')}`, { cause: err })
  }
}

export async function command (hub: TestHub, token: string, deviceId: string, body: Record<string, unknown>): Promise<CommandView> {
  const res = await hub.api<CommandView>(token, 'POST', `/api/devices/${deviceId}/commands`, body)
  if (res.status !== 202) throw new Error(`command refused: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

interface DeviceChoices {
  connect?: boolean
  behaviour?: SimulatedDeviceOptions['behaviour']
  faults?: SimulatedDeviceOptions['faults']
  profiles?: SimProfile[]
}

// LPA devices' eUICCs come from one test PKI the hub does not trust: their own notifications are refused,
// and the inventory moves by commands and inventory reports only.
let lpaPki: TestPki | null = null

/** An LPA device (JSON commands) with two profiles, run by the simulator. */
export async function lpaDevice (hub: TestHub, token: string, options: DeviceChoices & { tags?: string[] } = {}): Promise<SimulatedDevice> {
  lpaPki ??= createTestPki()
  const eid = nextEid()
  const { credentials } = await hub.createDevice(token, { eid, ...(options.tags === undefined ? {} : { tags: options.tags }) })
  const euicc = issueEuiccCertificate(lpaPki.eum, { eid, curve: lpaPki.curve })
  return await simulated(hub, options, { credentials, eid, euicc: { privateKey: euicc.privateKey, certificateDer: euicc.certificateDer, eumCertificateDer: lpaPki.eum.certificateDer } })
}

/** An SGP.32 (ipa) device whose eUICC certificate is registered with the hub, run by the simulator. */
export async function ipaDevice (hub: TestHub, token: string, pki: TestPki, options: DeviceChoices = {}): Promise<SimulatedDevice> {
  const eid = nextEid()
  const euicc = issueEuiccCertificate(pki.eum, { eid, curve: pki.curve })
  // A registered certificate must chain to a trusted CI: trust this PKI's (a duplicate is answered 201 too).
  const anchor = await hub.api(token, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(pki.ci.certificateDer) })
  if (anchor.status !== 201) throw new Error(`trust anchor refused: ${anchor.status} ${JSON.stringify(anchor.body)}`)
  const { credentials } = await hub.createDevice(token, { esimAgent: 'ipa', euiccCertificate: toPem(euicc.certificateDer), eumCertificate: toPem(pki.eum.certificateDer) })
  const eim = (await hub.api(token, 'GET', '/api/eim')).body
  return await simulated(hub, options, { credentials, eid, eim, euicc: { privateKey: euicc.privateKey, certificateDer: euicc.certificateDer, eumCertificateDer: pki.eum.certificateDer } })
}

async function simulated (hub: TestHub, choices: DeviceChoices, device: Pick<SimulatedDeviceOptions, 'credentials' | 'eid' | 'euicc' | 'eim'>): Promise<SimulatedDevice> {
  const sim = new SimulatedDevice({
    mqttUrl: hub.mqttUrl,
    profiles: choices.profiles ?? defaultProfiles(),
    ...device,
    ...(choices.behaviour === undefined ? {} : { behaviour: choices.behaviour }),
    ...(choices.faults === undefined ? {} : { faults: choices.faults })
  })
  if (choices.connect !== false) await sim.connect()
  return sim
}
