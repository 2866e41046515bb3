import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls'
import mqttPacket from 'mqtt-packet'
import { eventually } from './eventually.ts'

/** A raw MQTT connection for tests that must send what a well-behaved client library refuses to. */
export class RawMqtt {
  readonly packets: mqttPacket.Packet[] = []
  closed: Promise<void>
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 })

  private constructor (readonly socket: Socket) {
    this.parser.on('packet', (p) => this.packets.push(p))
    this.parser.on('error', () => {})
    socket.on('data', (chunk) => this.parser.parse(chunk))
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  static async open (port: number): Promise<RawMqtt> {
    const socket = tcpConnect({ host: '127.0.0.1', port })
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    return new RawMqtt(socket)
  }

  /** MQTT over TLS (`tls`: the hub's CA, a client certificate…); resolves after the handshake. */
  static async openTls (port: number, tls: ConnectionOptions): Promise<RawMqtt> {
    const socket = tlsConnect({ host: '127.0.0.1', port, ...tls })
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve); socket.once('error', reject) })
    return new RawMqtt(socket)
  }

  send (packet: Record<string, unknown>): void {
    this.socket.write(mqttPacket.generate(packet as unknown as mqttPacket.Packet))
  }

  /** Waits for the first received packet with this `cmd` (or rejects when the socket closes first). */
  async next (cmd: string, timeoutMs = 20_000): Promise<mqttPacket.Packet> {
    return await eventually(`a ${cmd}`, () => {
      const found = this.packets.find((p) => p.cmd === cmd)
      if (found === undefined && this.socket.destroyed) throw new Error(`closed before a ${cmd}`)
      return found
    }, timeoutMs)
  }

  close (): void {
    this.socket.destroy()
  }
}

export function connectPacket (fields: Record<string, unknown>): Record<string, unknown> {
  return { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 30, ...fields }
}
