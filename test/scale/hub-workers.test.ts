// HUB_WORKERS=2: one hub of two processes (node:cluster) serving one HTTP and one MQTT port; a worker
// that dies is replaced; SIGTERM stops them all.
import t from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { throwawayDatabase } from '../helpers/test-hub.ts'
import { connectDevice, skipScale, startHubProcess } from './hub-process.ts'

/** The pids of the workers that reported listening, from the primary's log lines. */
function listeningWorkers (output: string[]): number[] {
  return output.filter((line) => line.includes('"hub worker listening"')).map((line) => JSON.parse(line).worker as number)
}

t.test('HUB_WORKERS=2 starts two workers on one port, replaces one that dies, stops all on SIGTERM', { skip: skipScale }, async (t) => {
  const hub = await startHubProcess(t, {
    DATABASE_URL: await throwawayDatabase(t),
    REDIS_URL: process.env.REDIS_URL as string,
    HUB_WORKERS: '2',
    HUB_LOG_LEVEL: 'info'
  })
  const workers = await eventually('two workers listening', () => {
    const pids = listeningWorkers(hub.output)
    return pids.length === 2 ? pids : undefined
  }, { timeoutMs: 120_000 })
  t.not(workers[0], workers[1], 'two processes')
  t.ok(workers.every((pid) => pid !== hub.child.pid), 'neither is the primary')

  // The one port serves (the primary hands each connection to a worker).
  const token = await hub.login()
  const { body } = await hub.api(token, 'POST', '/api/devices', { name: 'on the shared port' })
  const device = await connectDevice(t, hub.mqttUrl, body.credentials)
  t.ok(device.connected, 'a device connects to the shared MQTT port')

  // A worker killed outright is replaced.
  process.kill(workers[0], 'SIGKILL')
  const replaced = await eventually('a new worker', () => listeningWorkers(hub.output).find((pid) => !workers.includes(pid)), { timeoutMs: 120_000 })
  t.ok(replaced > 0)
  t.equal((await hub.api('', 'GET', '/healthz')).status, 200, 'the hub serves on')

  await hub.stop()
  t.equal(await hub.exited, 0, 'the primary exits 0 after stopping its workers')
  for (const pid of [workers[1], replaced]) {
    t.throws(() => process.kill(pid, 0), 'worker ' + String(pid) + ' is gone')
  }
})
