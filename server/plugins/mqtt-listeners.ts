import { readFileSync } from 'node:fs'
import fp from 'fastify-plugin'
import { PortInUseError } from '../errors.ts'
import { publicHost } from './config.ts'

/** The MQTT ports, known once the app is ready. */
export interface MqttListeners {
  /** HUB_MQTT_PORT's listener (0 until ready). */
  readonly port: number
  /** HUB_MQTTS_PORT's listener (MQTT over TLS, client certificates accepted), or null. */
  readonly tlsPort: number | null
  /** `mqtt://host:port`, what device credentials name ('' until ready). */
  readonly url: string
}

declare module 'fastify' {
  interface FastifyInstance {
    mqttListeners: MqttListeners
  }
}

/** MQTT over TCP and, with HUB_MQTTS_PORT, over TLS. They open when the app is ready — after every
 * plugin, so no device reaches a hook before the services behind it exist — and the broker's close
 * closes them (broker.ts). A taken port fails the start with its name (PortInUseError). */
export const mqttListenersPlugin = fp(async (app) => {
  const { broker, config } = app
  const listeners = { port: 0, tlsPort: null as number | null, url: '' }
  app.decorate('mqttListeners', listeners as MqttListeners)
  app.addHook('onReady', async () => {
    listeners.port = await broker.listenTcp(config.host, config.mqttPort).catch(PortInUseError.of('MQTT', config.host, config.mqttPort, 'HUB_MQTT_PORT'))
    listeners.url = `mqtt://${publicHost(config)}:${listeners.port}`
    if (config.mqttsPort !== null) {
      listeners.tlsPort = await broker.listenTls(config.host, config.mqttsPort, {
        cert: readFileSync(config.tlsCert as string),
        key: readFileSync(config.tlsKey as string)
      }, app.deviceCertificates.gate).catch(PortInUseError.of('MQTT/TLS', config.host, config.mqttsPort, 'HUB_MQTTS_PORT'))
      app.log.info({ mqttsPort: listeners.tlsPort }, 'MQTT over TLS listening (client certificates of the device CA accepted)')
    }
  })
}, { name: 'mqtt-listeners', dependencies: ['config', 'broker', 'device-sessions', 'device-certificates'] })
