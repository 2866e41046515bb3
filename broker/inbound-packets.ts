import type { Client } from 'aedes'
import type { Packet } from 'mqtt-packet'

/** A packet as mqtt-packet parsed it. */
export type InboundPacket = Packet

interface ClientInternals { _parser: { listeners (event: 'packet'): Array<(packet: unknown) => void>, removeListener (event: 'packet', fn: (packet: unknown) => void): void, on (event: 'packet', fn: (packet: unknown) => void): void } }

/**
 * Puts `inspect` between a client's MQTT parser and Aedes's packet queue: it sees every packet first,
 * may adjust it, and returns false to keep it from Aedes (it then answers itself). This is the one place
 * the hub reaches into Aedes's client (`_parser`, Aedes 1.x): SUBSCRIBE has no hook of its own before
 * Aedes writes the SUBACK.
 */
export function interceptInbound (client: Client, inspect: (packet: InboundPacket) => boolean): void {
  const parser = (client as unknown as ClientInternals)._parser
  const [enqueue] = parser.listeners('packet')
  if (enqueue === undefined) throw new Error('Aedes client without a packet listener: is this Aedes 1.x?')
  parser.removeListener('packet', enqueue)
  parser.on('packet', function (this: unknown, packet: unknown) {
    if (inspect(packet as InboundPacket)) enqueue.call(this, packet)
  })
}
