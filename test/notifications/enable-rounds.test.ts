// Notified enables are applied in each eUICC's seqNumber order, several eUICCs per statement: one batch
// with two enables on one eUICC and one on another leaves the same rows as applying them one by one.
import t from 'tap'
import { sql } from 'drizzle-orm'
import { openDatabase } from '../../server/db/database.ts'
import { OperatorDirectory } from '../../server/inventory/operator-directory.ts'
import { enableRounds, ProfileInventory, type NotificationEffect } from '../../server/inventory/profile-inventory.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'

t.test('enables in rounds: each eUICC\'s k-th enable in round k', async (t) => {
  const s = (eid: string, seqNumber: number, state = 'enabled') => ({ eid, seqNumber, state })
  const rounds = enableRounds([s('X', 9), s('Y', 3), s('X', 5), s('X', 7, 'disabled'), s('Z', 1, 'deleted')])
  t.same(rounds, [[s('X', 5), s('Y', 3)], [s('X', 9)]], 'X\'s enables in seqNumber order across rounds; other states are not enables')
  t.same(enableRounds([]), [])
})

t.test('a batch of enables on two eUICCs disables what each enable replaced, in seqNumber order', async (t) => {
  const database = await openDatabase(await throwawayDatabase(t))
  t.teardown(() => database.close())
  const operators = new OperatorDirectory(database)
  await operators.load()
  const inventory = new ProfileInventory(database, operators)
  const effect = (eid: string, iccid: string, seqNumber: number): NotificationEffect => ({ eid, iccid, operation: 'enable', seqNumber, tenantId: null, deviceId: null })
  const X = '89049032000000000000000000000001'
  const Y = '89049032000000000000000000000002'

  await database.db.transaction((tx) => inventory.applyNotifications(tx, [effect(X, '8995010000000000001', 1), effect(Y, '8995010000000000011', 1)]))
  const changed = await database.db.transaction((tx) => inventory.applyNotifications(tx, [
    effect(X, '8995010000000000003', 9), effect(Y, '8995010000000000012', 3), effect(X, '8995010000000000002', 5)
  ]))
  const rows = await database.rows<{ eid: string, iccid: string, state: string, seq: number, cause: string }>(sql`
    select eid, iccid, state, seq_number::int as seq, cause from profiles order by eid, iccid`)
  t.same(rows, [
    { eid: X, iccid: '8995010000000000001', state: 'disabled', seq: 5, cause: 'implicit: 8995010000000000002 enabled (seq 5)' },
    { eid: X, iccid: '8995010000000000002', state: 'disabled', seq: 9, cause: 'implicit: 8995010000000000003 enabled (seq 9)' },
    { eid: X, iccid: '8995010000000000003', state: 'enabled', seq: 9, cause: 'notification: enable (seq 9)' },
    { eid: Y, iccid: '8995010000000000011', state: 'disabled', seq: 3, cause: 'implicit: 8995010000000000012 enabled (seq 3)' },
    { eid: Y, iccid: '8995010000000000012', state: 'enabled', seq: 3, cause: 'notification: enable (seq 3)' }
  ], 'as if applied one at a time: A by B (seq 5), then B by C (seq 9); P by Q')
  const last = new Map(changed.map((p) => [p.iccid, p.state]))
  t.same(Object.fromEntries(last), { '8995010000000000001': 'disabled', '8995010000000000002': 'disabled', '8995010000000000003': 'enabled', '8995010000000000011': 'disabled', '8995010000000000012': 'enabled' }, 'every changed row is returned, its last state last')
})
