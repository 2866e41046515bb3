// The project's mosquitto.conf, run by the real `mosquitto` binary as a field site's broker bridged to a
// test hub over TLS as a site gateway (DESIGN.md "Edge bridging"; docs/broker.md "Site gateways"), once
// with the gateway's secret and once with its client certificate (the variant the file's comments say).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import mqtt from 'mqtt'
import t, { type Test } from 'tap'
import { eventually } from '../helpers/eventually.ts'
import { freePort } from '../helpers/free-port.ts'
import { startTestHub } from '../helpers/test-hub.ts'
import { p256Request, throwawayCertificate } from '../helpers/tls-certificate.ts'

const mosquittoBinary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => spawnSync(p, ['-h']).error === undefined)

/** mosquitto.conf with its placeholders filled in, on a free local port and a temporary data directory;
 * with `certificate`, changed as its comments say for a client certificate instead of the secret. */
function siteConfig (t: Test, dir: string, fill: Record<string, string>, localPort: number, certificate: boolean): string {
  let conf = readFileSync(fileURLToPath(new URL('../../mosquitto.conf', import.meta.url)), 'utf8')
  if (certificate) {
    t.match(conf, /^#bridge_certfile \{\{GATEWAY_CERT_FILE\}\}$/m, 'the certificate variant is in the file')
    conf = conf.replace(/^remote_(username|password) .*\n/gm, '').replace(/^#(bridge_(cert|key)file )/gm, '$1')
  }
  for (const [key, value] of Object.entries(fill)) conf = conf.replaceAll(`{{${key}}}`, value)
  const settings = conf.split('\n').filter((line) => !line.startsWith('#')).join('\n')
  t.notMatch(settings, /\{\{[A-Z_]+\}\}/, 'every placeholder of mosquitto.conf is filled')
  conf = conf.replace(/^listener 1883$/m, `listener ${localPort} 127.0.0.1`).replace(/^persistence_location .*$/m, `persistence_location ${dir}/`) +
    // Run as whoever runs the test (as root, Mosquitto would switch to the `mosquitto` user, which cannot
    // read this temporary directory), logging to stderr for the failure messages.
    `\nuser ${userInfo().username}\nlog_dest stderr\nlog_type all\n`
  const path = join(dir, 'mosquitto.conf')
  writeFileSync(path, conf)
  return path
}

const skip = mosquittoBinary === undefined ? 'the mosquitto binary is not installed (apt-get install mosquitto)' : false
t.test('a site Mosquitto bridged with mosquitto.conf and the gateway\'s secret: telemetry stored, commands delivered, another site refused', { skip }, async (t) => {
  await bridgedSite(t, 'secret')
})
t.test('the same with a gateway client certificate (bridge_certfile/bridge_keyfile) instead of the secret', { skip }, async (t) => {
  await bridgedSite(t, 'certificate')
})

async function bridgedSite (t: Test, credential: 'secret' | 'certificate'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'euicc-bridge-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const tls = throwawayCertificate(t)
  const hub = await startTestHub(t, { env: { HUB_MQTTS_PORT: '0', HUB_TLS_CERT: tls.certFile, HUB_TLS_KEY: tls.keyFile } })
  const token = await hub.login()

  const gateway = await hub.api(token, 'POST', '/api/gateways', { name: 'Yangon depot', site: 'yangon-1' })
  t.equal(gateway.status, 201)
  const local = (await hub.createDevice(token)).device
  const elsewhere = (await hub.createDevice(token)).device
  t.equal((await hub.api(token, 'PATCH', `/api/devices/${local.id}`, { site: 'yangon-1' })).status, 200)
  t.equal((await hub.api(token, 'PATCH', `/api/devices/${elsewhere.id}`, { site: 'mandalay-2' })).status, 200)

  const localPort = await freePort()
  const fill: Record<string, string> = { HUB_ADDRESS: `localhost:${hub.mqttsPort as number}`, HUB_CA_FILE: tls.certFile, GATEWAY_ID: gateway.body.credentials.username }
  if (credential === 'secret') {
    fill.GATEWAY_SECRET = gateway.body.credentials.password
  } else {
    // As the site operator does: a key made here, its CSR sent to the hub, the certificate saved.
    const request = p256Request('site bridge')
    const issued = await hub.api(token, 'POST', `/api/gateways/${gateway.body.gateway.id}/certificate`, { csr: request.csr })
    t.equal(issued.status, 201)
    fill.GATEWAY_CERT_FILE = join(dir, 'gateway.crt')
    fill.GATEWAY_KEY_FILE = join(dir, 'gateway.key')
    writeFileSync(fill.GATEWAY_CERT_FILE, issued.body.certificate)
    writeFileSync(fill.GATEWAY_KEY_FILE, request.keyPem)
  }
  const config = siteConfig(t, dir, fill, localPort, credential === 'certificate')
  const mosquitto: ChildProcess = spawn(mosquittoBinary as string, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  mosquitto.stderr?.on('data', (chunk: Buffer) => { log += chunk.toString() })
  t.teardown(() => { mosquitto.kill('SIGTERM') })

  // The bridge is up once the hub shows the gateway's connection as one more open socket.
  const gauge = async (): Promise<number> => Number(/^hub_mqtt_connections (\d+)/m.exec(await (await fetch(hub.httpUrl + '/metrics')).text())?.[1])
  await eventually(`the bridge connected (mosquitto log: ${log.slice(-500)})`, async () => await gauge() >= 1, 20_000)

  // A device of the site, on the site's broker (it knows nothing of the hub).
  const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${localPort}`, { clientId: local.id, reconnectPeriod: 0 })
  t.teardown(() => device.endAsync(true))
  const commands: Array<{ topic: string, payload: string }> = []
  device.on('message', (topic, payload) => { commands.push({ topic, payload: payload.toString() }) })
  await device.subscribeAsync(`devices/${local.id}/commands/+`, { qos: 1 })

  await device.publishAsync(`devices/${local.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1, rsrp: -95 }), { qos: 1 })
  const stored = await eventually('the site device\'s telemetry stored by the hub', async () => {
    const items = (await hub.api(token, 'GET', `/api/devices/${local.id}/telemetry`)).body.items
    return items.length > 0 ? items : undefined
  }, 20_000)
  t.equal(stored[0].rsrp, -95, 'telemetry from the site reached the hub through the bridge')
  t.equal((await hub.api(token, 'GET', `/api/devices/${local.id}`)).body.status, 'online', 'the device is online through its gateway')

  const command = await hub.api(token, 'POST', `/api/devices/${local.id}/commands`, { op: 'listProfiles' })
  t.equal(command.status, 202)
  const received = await eventually('the command at the site device', () => commands.find((c) => c.topic.endsWith(command.body.id)), 20_000)
  t.equal(JSON.parse(received.payload).op, 'listProfiles', 'the command came back through the bridge')
  await device.publishAsync(`${received.topic}/result`, JSON.stringify({ status: 'ok', data: { profiles: [] } }), { qos: 1 })
  await eventually('the command succeeded', async () => (await hub.api(token, 'GET', `/api/commands/${command.body.id}`)).body.status === 'succeeded', 20_000)
  t.pass('its result ended the command')

  // A device of another site, on this site's broker: the hub acknowledges, drops and audits it, and
  // the bridge (and the site) keep working.
  const stray = await mqtt.connectAsync(`mqtt://127.0.0.1:${localPort}`, { clientId: elsewhere.id, reconnectPeriod: 0 })
  t.teardown(() => stray.endAsync(true))
  await stray.publishAsync(`devices/${elsewhere.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 1, rsrp: -80 }), { qos: 1 })
  await eventually('the refusal in the audit log', async () => {
    const rows = (await hub.api(token, 'GET', '/api/audit?limit=100')).body.items
    return rows.some((r: any) => r.action === 'mqtt.publish' && r.outcome === 'denied' && JSON.stringify(r.detail).includes(elsewhere.id))
  }, 20_000)
  await device.publishAsync(`devices/${local.id}/telemetry`, JSON.stringify({ ts: Date.now(), seq: 2, rsrp: -90 }), { qos: 1 })
  await eventually('the site device\'s next sample', async () => (await hub.api(token, 'GET', `/api/devices/${local.id}/telemetry`)).body.items.length === 2, 20_000)
  t.equal((await hub.api(token, 'GET', `/api/devices/${elsewhere.id}/telemetry`)).body.items.length, 0, 'nothing of the other site\'s device was stored')
  t.pass('the bridge kept working after the refused publish')

  if (credential === 'certificate') {
    // Revoked: the hub ends the bridge's session, and Mosquitto's reconnect is refused with return code 5.
    const revoked = await hub.api(token, 'DELETE', `/api/gateways/${gateway.body.gateway.id}/certificate`)
    t.equal(revoked.body.revoked.length, 1)
    await eventually(`the site's Mosquitto told "not authorised" (log: ${log.slice(-300)})`, () => /Connection Refused: not authori[sz]ed/.test(log), 60_000)
    t.pass('a revoked gateway certificate is refused at CONNECT, in words a site operator can read')
  }
}
