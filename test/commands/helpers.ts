import { eidForPrefix } from '../../esim/eid.ts'
import { issueEuiccCertificate, type TestPki } from '../../esim/test-pki.ts'
import { toPem } from '../helpers/euicc-fixtures.ts'
import type { TestHub } from '../helpers/test-hub.ts'
import { TestDevice, type Profile } from './test-device.ts'

export const ICCID_A = '8995050000000000011'
export const ICCID_B = '8995050000000000029'
export const TERMINAL = ['succeeded', 'failed', 'expired', 'cancelled']

let serial = 1000n
export const nextEid = (): string => eidForPrefix('89049032', serial++)

export const defaultProfiles = (): Profile[] => [{ iccid: ICCID_A, state: 'enabled' }, { iccid: ICCID_B, state: 'disabled' }]

/** Polls a command until its status is one of `statuses`. */
export async function waitCommand (hub: TestHub, token: string, id: string, statuses: string[] = TERMINAL, timeoutMs = 10_000): Promise<any> {
  const until = Date.now() + timeoutMs
  for (;;) {
    const res = await hub.api(token, 'GET', `/api/commands/${id}`)
    if (statuses.includes(res.body?.status)) return res.body
    if (Date.now() > until) throw new Error(`command ${id} is ${res.body?.status}, not ${statuses.join('|')}`)
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
}

export async function command (hub: TestHub, token: string, deviceId: string, body: Record<string, unknown>): Promise<any> {
  const res = await hub.api(token, 'POST', `/api/devices/${deviceId}/commands`, body)
  if (res.status !== 202) throw new Error(`command refused: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

/** An LPA device (JSON commands) with two profiles. */
export async function lpaDevice (hub: TestHub, token: string, options: { connect?: boolean, behaviour?: TestDevice['options']['behaviour'], tags?: string[] } = {}): Promise<TestDevice> {
  const eid = nextEid()
  const { credentials } = await hub.createDevice(token, { eid, ...(options.tags === undefined ? {} : { tags: options.tags }) })
  const device = new TestDevice({ mqttUrl: hub.mqttUrl, credentials, eid, profiles: defaultProfiles(), ...(options.behaviour === undefined ? {} : { behaviour: options.behaviour }) })
  if (options.connect !== false) await device.connect()
  return device
}

/** An SGP.32 (ipa) device whose eUICC certificate is registered with the hub. */
export async function ipaDevice (hub: TestHub, token: string, pki: TestPki, options: { connect?: boolean, behaviour?: TestDevice['options']['behaviour'] } = {}): Promise<TestDevice> {
  const eid = nextEid()
  const euicc = issueEuiccCertificate(pki.eum, { eid, curve: pki.curve })
  // A registered certificate must chain to a trusted CI: trust this PKI's (a duplicate is answered 201 too).
  const anchor = await hub.api(token, 'POST', '/api/euicc/trust-anchors', { certificate: toPem(pki.ci.certificateDer) })
  if (anchor.status !== 201) throw new Error(`trust anchor refused: ${anchor.status} ${JSON.stringify(anchor.body)}`)
  const { credentials } = await hub.createDevice(token, { esimAgent: 'ipa', euiccCertificate: toPem(euicc.certificateDer), eumCertificate: toPem(pki.eum.certificateDer) })
  const eim = (await hub.api(token, 'GET', '/api/eim')).body
  const device = new TestDevice({ mqttUrl: hub.mqttUrl, credentials, eid, euiccKey: euicc.privateKey, eim, profiles: defaultProfiles(), ...(options.behaviour === undefined ? {} : { behaviour: options.behaviour }) })
  if (options.connect !== false) await device.connect()
  return device
}
