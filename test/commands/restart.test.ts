import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createTestPki } from '../../esim/test-pki.ts'
import { startTestHub, throwawayDatabase } from '../helpers/test-hub.ts'
import { command, ICCID_A, ICCID_B, ipaDevice, lpaDevice, waitCommand } from './helpers.ts'

t.test('a hub restart loses nothing and runs nothing twice', async (t) => {
  let url: string
  if (process.env.DATABASE_URL !== undefined && !process.env.DATABASE_URL.startsWith('pglite://')) {
    url = await throwawayDatabase(t)
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'hub-restart-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    url = `pglite://${dir}`
  }
  const first = await startTestHub(t, { env: { DATABASE_URL: url } })
  let token = await first.login()
  const eimBefore = (await first.api(token, 'GET', '/api/eim')).body
  let hold = true
  const lpa = await lpaDevice(first, token, { behaviour: () => hold ? 'hold' : 'run' })
  const ipa = await ipaDevice(first, token, createTestPki())
  t.teardown(async () => { await lpa.disconnect(); await ipa.disconnect() })

  const warmup = await waitCommand(first, token, (await command(first, token, ipa.id, { op: 'disable', iccid: ICCID_A })).id)
  t.equal(warmup.euicc?.counterValue, 1)
  await ipa.disconnect()

  const inFlight = await command(first, token, lpa.id, { op: 'disable', iccid: ICCID_A })
  const queued = await command(first, token, lpa.id, { op: 'enable', iccid: ICCID_B })
  const offline = await command(first, token, ipa.id, { op: 'enable', iccid: ICCID_B })
  await lpa.waitForCommand((c) => c.message.id === inFlight.id)
  t.equal((await waitCommand(first, token, inFlight.id, ['sent'])).status, 'sent')
  await first.close()
  await lpa.disconnect()

  const second = await startTestHub(t, { env: { DATABASE_URL: url } })
  token = await second.login()
  t.same((await second.api(token, 'GET', '/api/eim')).body, eimBefore, 'the eIM identity is kept')
  t.equal((await second.api(token, 'GET', `/api/commands/${queued.id}`)).body.status, 'queued')
  t.equal((await second.api(token, 'GET', `/api/commands/${inFlight.id}`)).body.status, 'sent')

  hold = false
  lpa.held.length = 0
  await lpa.connect(second.mqttUrl)
  await ipa.connect(second.mqttUrl)
  const resent = await waitCommand(second, token, inFlight.id)
  t.equal(resent.status, 'succeeded', 'the in-flight command is sent again on reconnect and answered')
  t.equal(resent.deliveries, 2)
  const next = await waitCommand(second, token, queued.id)
  t.equal(next.status, 'succeeded', 'the queued one follows')
  t.equal(next.deliveries, 1)
  t.equal(lpa.runs, 2, 'each command ran once on the device')
  const pkg = await waitCommand(second, token, offline.id)
  t.equal(pkg.status, 'succeeded', `the eUICC accepts the package signed with the same eIM key (${JSON.stringify(pkg)})`)
  t.equal(pkg.euicc?.counterValue, 2, 'the counter continues after the restart')
  const profiles = (await second.api(token, 'GET', `/api/devices/${lpa.id}/profiles`)).body.items
  t.match(profiles, [{ iccid: ICCID_A, state: 'disabled' }, { iccid: ICCID_B, state: 'enabled' }])
})
