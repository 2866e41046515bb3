import t from 'tap'
import mqtt from 'mqtt'
import { sql } from 'drizzle-orm'
import { eidForPrefix } from '../../esim/eid.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// An inventory report names the EID of the eUICC it describes. One that names an EID that is not the
// device's is quarantined `eid-mismatch` (acknowledged, kept with its reason) and changes nothing: an EID
// other than the device's registered one, or, from a device with no registered EID, one another device holds.

const ICCID = '8995090000000000012'

t.test('inventory reports naming an EID that is not the device\'s are quarantined eid-mismatch', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const heldEid = eidForPrefix('89049032', 990_101n)
  const holder = await hub.createDevice(token, { eid: heldEid })
  const registered = await hub.createDevice(token, { eid: eidForPrefix('89049032', 990_102n) })
  const unregistered = await hub.createDevice(token) // no EID registered
  const profilesOf = async (deviceId: string) => (await hub.api(token, 'GET', `/api/devices/${deviceId}/profiles?includeDeleted=true`)).body.items as Array<{ iccid: string }>

  const report = JSON.stringify({ eid: heldEid, profiles: [{ iccid: ICCID, state: 'enabled' }] })
  for (const { device, credentials } of [registered, unregistered]) {
    const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 0 })
    t.teardown(() => client.endAsync(true))
    await client.publishAsync(`devices/${device.id as string}/inventory`, report, { qos: 1 })
    t.ok(client.connected, 'acknowledged on the same connection')
  }

  // The PUBACK follows the quarantine write: the rows are there once both publishes resolved.
  const rows = await hub.database.rows<{ device_id: string, reason: string, detail: string, payload: Uint8Array | null }>(sql`select device_id, reason, detail, payload from quarantine order by id`)
  t.same(rows.map((r) => [r.device_id, r.reason]), [[registered.device.id, 'eid-mismatch'], [unregistered.device.id, 'eid-mismatch']])
  t.equal(rows[0].detail, `the report's EID ${heldEid} is not the device's ${registered.device.eid as string}`)
  t.equal(rows[1].detail, `EID ${heldEid} is registered to another device`, 'names neither the holder nor its tenant')
  t.equal(Buffer.from(rows[1].payload ?? []).toString(), report, 'the report is kept')

  t.same(await profilesOf(holder.device.id as string), [], 'the holder\'s inventory is unchanged')
  t.same(await profilesOf(registered.device.id as string), [])
  t.same(await profilesOf(unregistered.device.id as string), [], 'nothing recorded for the reporting device')
  const metrics = await (await fetch(hub.httpUrl + '/metrics')).text()
  t.match(metrics, /hub_ingest_quarantined_total\{reason="eid-mismatch"\} 2/)
})
