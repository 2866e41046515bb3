import t from 'tap'
import mqtt from 'mqtt'
import { sql } from 'drizzle-orm'
import { startTestHub } from '../helpers/test-hub.ts'

t.test('a write that fails mid-batch sends no PUBACK; the resend is stored once', async (t) => {
  const hub = await startTestHub(t)
  const token = await hub.login()
  const { device, credentials } = await hub.createDevice(token)

  // A real database failure, not a stub: a trigger rejects the transaction holding seq 666 the first
  // time (sequences are not rolled back, so the second attempt passes).
  await hub.database.rows(sql.raw('create sequence fault_once'))
  await hub.database.rows(sql.raw(`create function fail_once() returns trigger language plpgsql as $$
    begin
      if new.seq = 666 and nextval('fault_once') = 1 then raise exception 'injected write failure'; end if;
      return new;
    end $$`))
  await hub.database.rows(sql.raw('create trigger fail_once before insert on telemetry for each row execute function fail_once()'))

  const client = await mqtt.connectAsync(hub.mqttUrl, { ...credentials, reconnectPeriod: 100, clean: false })
  t.teardown(() => client.endAsync(true))
  let drops = 0
  client.on('close', () => { drops++ })
  const ackedAfterDrops = new Map<number, number>()
  client.on('packetreceive', (p) => { if (p.cmd === 'puback') ackedAfterDrops.set(p.messageId as number, drops) })

  const base = Date.now() - 10_000
  const seqs = [1, 2, 3, 4, 5, 666, 7, 8, 9, 10]
  const sent = await Promise.all(seqs.map((seq, i) =>
    client.publishAsync(`devices/${device.id}/telemetry`, JSON.stringify({ ts: base + i, seq, rsrp: -90 }), { qos: 1 })))

  t.ok(drops >= 1, 'the failed write dropped the connection and the client reconnected')
  const failedId = sent[5]?.messageId as number
  t.ok((ackedAfterDrops.get(failedId) ?? 0) >= 1, 'seq 666 was acknowledged only after the drop, i.e. after its resend committed')

  const stored = await hub.api(token, 'GET', `/api/devices/${device.id}/telemetry?from=${base}`)
  t.same(stored.body.items.map((i: { seq: number }) => i.seq), seqs, 'every acknowledged sample stored exactly once')
  const failures = await (await fetch(hub.httpUrl + '/metrics')).text()
  t.match(failures, /hub_ingest_write_failures_total [1-9]/)
})
