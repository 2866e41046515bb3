import t from 'tap'
import { isdpAid } from '../../device-sim/identity.ts'
import { eventually } from '../helpers/eventually.ts'
import type { SimulatedDevice } from '../helpers/simulated-device.ts'
import { SseClient } from '../helpers/sse-client.ts'
import { startTestHub, type TestHub } from '../helpers/test-hub.ts'
import { ICCID_B, lpaDevice, waitCommand } from './helpers.ts'

/** Waits for `done(campaign)`, for as long as the campaign makes progress (stuck for 20 s fails). */
async function waitCampaign (hub: TestHub, token: string, id: string, done: (c: any) => boolean): Promise<any> {
  let last: any
  try {
    return await eventually(`campaign ${id}`, async () => {
      last = (await hub.api(token, 'GET', `/api/campaigns/${id}`)).body
      return done(last) && last
    }, { progress: () => [last?.status, last?.progress] })
  } catch (err) {
    throw new Error('campaign stuck: ' + JSON.stringify(last), { cause: err })
  }
}

t.test('a campaign over 200 devices: concurrency, failure threshold, pause, resume, cancel', async (t) => {
  // The safety tick never fires during these tests: campaigns advance on command ends and rate timers.
  const hub = await startTestHub(t, { commands: { sweepMs: 200, campaignTickMs: 3_600_000 } })
  const token = await hub.login()
  const fleet: SimulatedDevice[] = []
  let inFlight = 0
  let maxInFlight = 0
  for (let i = 0; i < 200; i++) {
    const failing = i >= 120
    fleet.push(await lpaDevice(hub, token, {
      tags: ['fleet', i % 2 === 0 ? 'even' : 'odd'],
      // The eUICCs of the last 80 refuse every operation.
      ...(failing ? { faults: { 'fail-ops': 1 } } : {}),
      behaviour: () => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        setTimeout(() => { inFlight-- }, 20)
        return 'run'
      }
    }))
  }
  t.teardown(async () => { await Promise.all(fleet.map((d) => d.disconnect())) })
  const other = await lpaDevice(hub, token, { tags: ['elsewhere'] })
  t.teardown(() => other.disconnect())
  const ticket = (await hub.api(token, 'POST', '/api/events/ticket')).body.ticket
  const sse = await SseClient.open(`${hub.httpUrl}/api/events?ticket=${ticket}`)
  t.teardown(() => sse.close())

  t.equal((await hub.api(token, 'POST', '/api/campaigns', { name: 'none', op: 'listProfiles', filter: { tags: ['nobody'] } })).status, 400)
  t.equal((await hub.api(token, 'POST', '/api/campaigns', { name: 'bad', op: 'enable', filter: { tags: ['fleet'] } })).status, 400, 'enable needs an iccid')
  t.equal((await hub.api(token, 'POST', '/api/campaigns', { name: 'all', op: 'listProfiles', filter: {} })).status, 400, 'an empty filter is refused')

  const created = await hub.api(token, 'POST', '/api/campaigns', {
    name: 'enable B', op: 'enable', iccid: ICCID_B, filter: { tags: ['fleet'] }, ratePerMinute: 60_000, concurrency: 10, failureThreshold: 5
  })
  t.equal(created.status, 201)
  t.match(created.body, { total: 200, status: 'running', progress: { pending: 200 } })
  const id = created.body.id as string

  const paused = await waitCampaign(hub, token, id, (c) => c.status === 'paused')
  t.match(paused.pausedReason, /failure threshold reached/)
  t.ok(paused.progress.failed >= 5, 'paused when failures reached the threshold')
  t.ok(paused.progress.succeeded >= 120 - 10 && paused.progress.succeeded <= 120, `the healthy devices ran first (${paused.progress.succeeded})`)
  t.ok(paused.progress.pending > 0, 'the rest waits')
  t.ok(maxInFlight <= 10, `never more than the concurrency limit in flight (${maxInFlight})`)
  // Campaigns step on command ends: once every launched command has ended, a paused one that launched
  // again would show it here.
  const still = await waitCampaign(hub, token, id, (c) => c.progress.queued === 0 && c.progress.sent === 0)
  t.equal(still.status, 'paused')
  t.equal(still.progress.pending, paused.progress.pending, 'a paused campaign launches nothing')
  t.notOk(other.received.length > 0, 'devices outside the filter get nothing')

  const resumed = await hub.api(token, 'POST', `/api/campaigns/${id}/resume`)
  t.equal(resumed.status, 200)
  t.equal(resumed.body.status, 'running')
  const pausedAgain = await waitCampaign(hub, token, id, (c) => c.status === 'paused')
  t.ok(pausedAgain.progress.failed >= paused.progress.failed + 5, 'the threshold counts failures since the resume')

  const cancelled = await hub.api(token, 'POST', `/api/campaigns/${id}/cancel`)
  t.equal(cancelled.body.status, 'cancelled')
  t.equal((await hub.api(token, 'POST', `/api/campaigns/${id}/resume`)).status, 409)
  const final = await waitCampaign(hub, token, id, (c) => c.progress.queued === 0 && c.progress.sent === 0)
  t.ok(final.progress.pending > 0)
  t.equal(final.progress.succeeded + final.progress.failed + final.progress.cancelled + final.progress.expired + final.progress.pending, 200)
  t.equal(fleet.slice(0, 120).filter((d) => d.profiles.find((p) => p.iccid === ICCID_B)?.state === 'enabled').length, final.progress.succeeded)

  const event = await sse.next((e) => e.event === 'campaign.updated' && e.data.id === id && e.data.status === 'cancelled')
  t.equal(event.data.total, 200)
  t.ok(sse.events.filter((e) => e.event === 'campaign.updated' && e.data.id === id).length > 3, 'progress is streamed')

  // A small one runs to completion, by explicit device list, at a rate.
  const started = Date.now()
  const small = await hub.api(token, 'POST', '/api/campaigns', { name: 'list', op: 'listProfiles', filter: { deviceIds: fleet.slice(0, 6).map((d) => d.id) }, ratePerMinute: 300, concurrency: 50, failureThreshold: 1 })
  t.equal(small.body.total, 6)
  const completed = await waitCampaign(hub, token, small.body.id as string, (c) => c.status === 'completed')
  t.equal(completed.progress.succeeded, 6)
  t.ok(Date.now() - started >= 900, 'the rate (5 per second) spaces the launches')
  const list = (await hub.api(token, 'GET', '/api/campaigns')).body
  t.same(list.items.map((c: any) => c.id), [small.body.id, id])
})

t.test('campaign filters: operator, model (IMEI TAC), tags combined; the campaign\'s commands', async (t) => {
  const hub = await startTestHub(t, { commands: { campaignTickMs: 3_600_000 } })
  const token = await hub.login()
  const a = await lpaDevice(hub, token, { tags: ['site-a'] })
  // b carries an MPT profile (ICCID prefix 899501): only a's are Ooredoo's.
  const b = await lpaDevice(hub, token, { tags: ['site-a'], profiles: [{ iccid: '8995010000000000013', state: 'enabled', name: 'MPT IoT', spn: 'MPT', aid: isdpAid(0) }] })
  t.teardown(async () => { await a.disconnect(); await b.disconnect() })
  const phone = await hub.createDevice(token, { imei: '354071150000017', tags: ['site-a'] })
  await hub.createDevice(token, { imei: '490154203237518', tags: ['site-a'] })
  // a's profiles are Ooredoo's (ICCID prefix 899505), known from its answer to listProfiles.
  const listed = await hub.api(token, 'POST', `/api/devices/${a.id}/commands`, { op: 'listProfiles' })
  await waitCommand(hub, token, listed.body.id as string, ['succeeded'])
  await waitCommand(hub, token, (await hub.api(token, 'POST', `/api/devices/${b.id}/commands`, { op: 'listProfiles' })).body.id as string, ['succeeded'])
  const byOperator = await hub.api(token, 'POST', '/api/campaigns', { name: 'ooredoo', op: 'listProfiles', filter: { operator: 'mm-ooredoo' } })
  t.equal(byOperator.body.total, 1)
  const byModel = await hub.api(token, 'POST', '/api/campaigns', { name: 'model', op: 'listProfiles', filter: { model: '35407115', tags: ['site-a'] }, ttlSeconds: 60 })
  t.equal(byModel.body.total, 1)
  const byTag = await hub.api(token, 'POST', '/api/campaigns', { name: 'site', op: 'listProfiles', filter: { tags: ['site-a'] } })
  t.equal(byTag.body.total, 4)
  t.equal((await hub.api(token, 'POST', '/api/campaigns', { name: 'bad', op: 'listProfiles', filter: { model: '35' } })).status, 400)

  const done = await waitCampaign(hub, token, byOperator.body.id as string, (c) => c.status === 'completed')
  t.equal(done.progress.succeeded, 1)
  const commands = await eventually('the model campaign\'s command', async () => {
    const items = (await hub.api(token, 'GET', `/api/campaigns/${byModel.body.id as string}/commands`)).body.items
    return items.length > 0 && items
  })
  t.equal(commands.length, 1)
  t.match(commands[0], { deviceId: phone.device.id, status: 'queued', campaignId: byModel.body.id, requestedBy: `campaign:${byModel.body.id as string}` })
  const paused = await hub.api(token, 'POST', `/api/campaigns/${byTag.body.id as string}/pause`)
  t.equal(paused.body.status, 'paused')
  t.equal((await hub.api(token, 'POST', `/api/campaigns/${byTag.body.id as string}/pause`)).status, 409)
  t.equal((await hub.api(token, 'GET', '/api/campaigns/00000000-0000-0000-0000-000000000000')).status, 404)
})

t.test('campaign filters: a site, alone and with tags (AND)', async (t) => {
  const hub = await startTestHub(t, { commands: { campaignTickMs: 3_600_000 } })
  const token = await hub.login()
  const at = async (site: string | null, tags: string[]) => {
    const { device } = await hub.createDevice(token, { tags })
    if (site !== null) t.equal((await hub.api(token, 'PATCH', `/api/devices/${device.id}`, { site })).status, 200)
    return device.id as string
  }
  const yardPump = await at('yard-7', ['pumps'])
  await at('yard-7', ['meters'])
  await at('dock-2', ['pumps'])
  await at(null, ['pumps'])
  const bySite = await hub.api(token, 'POST', '/api/campaigns', { name: 'yard', op: 'listProfiles', filter: { site: 'yard-7' } })
  t.equal(bySite.status, 201)
  t.equal(bySite.body.total, 2, 'the devices at the site, and only those')
  t.match(bySite.body.filter, { site: 'yard-7' }, 'the filter is kept with the campaign')
  const both = await hub.api(token, 'POST', '/api/campaigns', { name: 'yard pumps', op: 'listProfiles', filter: { site: 'yard-7', tags: ['pumps'] } })
  t.equal(both.body.total, 1, 'site and tags combine with AND')
  const commands = await eventually('the yard pumps campaign\'s command', async () => {
    const items = (await hub.api(token, 'GET', `/api/campaigns/${both.body.id as string}/commands`)).body.items
    return items.length > 0 && items
  })
  t.same(commands.map((c: { deviceId: string }) => c.deviceId), [yardPump], 'its one command is for the pump at the yard')
  t.equal((await hub.api(token, 'POST', '/api/campaigns', { name: 'nowhere', op: 'listProfiles', filter: { site: 'moon-1' } })).status, 400, 'a site with no device matches nothing: refused')
  t.equal((await hub.api(token, 'POST', '/api/campaigns', { name: 'empty', op: 'listProfiles', filter: { site: '' } })).status, 400, 'an empty site is bad input')
})
