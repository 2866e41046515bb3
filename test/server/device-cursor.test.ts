import { sql } from 'drizzle-orm'
import t from 'tap'
import { hashDeviceSecret } from '../../server/repositories/device-repository.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// Keyset pages name the boundary row's time: with microsecond timestamps and a millisecond cursor, every
// device sharing the boundary's millisecond (all the rows of one statement share now()) was skipped.
t.test('paging the device list finds every device, also those created by one statement', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const tenantId: string = (await hub.api(token, 'GET', '/api/auth/me')).body.tenantId
  const ids = Array.from({ length: 7 }, (_, i) => `bulk-${i}`)
  await hub.database.rows(sql`insert into devices (id, tenant_id, name, secret_hash)
    select id, ${tenantId}::uuid, id, ${hashDeviceSecret('x')} from unnest(${`{${ids.join(',')}}`}::text[]) as id`)
  const seen: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 20; page++) {
    const res: { status: number, body: { items: Array<{ id: string }>, nextCursor: string | null } } =
      await hub.api(token, 'GET', `/api/devices?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)
    t.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300))
    seen.push(...res.body.items.map((d) => d.id))
    cursor = res.body.nextCursor
    if (cursor === null) break
  }
  t.same([...seen].sort(), [...ids].sort(), 'every device once, across pages of 2')
})
