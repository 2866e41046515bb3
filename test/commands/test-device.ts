// The device side of the command contract, written with MQTT.js: an LPA that runs JSON commands, or an
// IPA whose eUICC checks each eUICC Package like a real one would (eIM id and signature with the exported
// key, EID, counter strictly increasing and ≤ 0x7FFFFF) and signs its results with its own key.
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import mqtt, { type MqttClient } from 'mqtt'
import { DerCursor, decodeDer, tlvBytes } from '../../esim/der-reader.ts'
import { readOctets, readUnsigned, readUtf8 } from '../../esim/der-values.ts'
import { concat, integer, octetString, sequence, tlv, utf8String } from '../../esim/der-writer.ts'
import { decodeEid } from '../../esim/eid.ts'
import { decodeIccid, encodeIccid } from '../../esim/iccid.ts'

const TOKEN = Uint8Array.of(0x84, 0x01, 0x00)

export interface Profile { iccid: string, state: 'enabled' | 'disabled', fallback?: boolean }

export interface TestDeviceOptions {
  mqttUrl: string
  credentials: { clientId: string, username: string, password: string }
  eid?: string
  /** The eUICC key for signing package results (IPA devices). */
  euiccKey?: KeyObject
  eim?: { eimId: string, publicKey: string }
  profiles?: Profile[]
  /** Called for each command; return 'hold' to not answer it (yet), 'fail' to answer an error. */
  behaviour?: (command: Record<string, any>) => 'run' | 'hold' | 'fail' | 'ignore'
}

export interface ReceivedCommand { topic: string, message: Record<string, any> }

export class TestDevice {
  readonly received: ReceivedCommand[] = []
  readonly held: ReceivedCommand[] = []
  /** Answers already given, by command id (a resent command gets the same answer, and is not run again). */
  readonly answers = new Map<string, Record<string, unknown>>()
  profiles: Profile[]
  counter = 0
  runs = 0
  client: MqttClient | null = null
  private waiters: Array<{ match: (c: ReceivedCommand) => boolean, resolve: (c: ReceivedCommand) => void }> = []
  private eimKey: KeyObject | null

  constructor (readonly options: TestDeviceOptions) {
    this.profiles = options.profiles?.map((p) => ({ ...p })) ?? []
    this.eimKey = options.eim === undefined ? null : createPublicKey(options.eim.publicKey)
  }

  get id (): string { return this.options.credentials.clientId }

  async connect (): Promise<void> {
    const { credentials } = this.options
    const client = mqtt.connect(this.options.mqttUrl, { clientId: credentials.clientId, username: credentials.username, password: credentials.password, protocolVersion: 4, reconnectPeriod: 0, clean: true })
    this.client = client
    await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject) })
    client.on('message', (topic, payload) => { this.onMessage(topic, payload).catch(() => {}) })
    await client.subscribeAsync(`devices/${this.id}/commands/+`, { qos: 1 })
  }

  async disconnect (): Promise<void> {
    const client = this.client
    this.client = null
    if (client !== null) await client.endAsync(true)
  }

  waitForCommand (match: (c: ReceivedCommand) => boolean = () => true, timeoutMs = 10_000): Promise<ReceivedCommand> {
    const found = this.received.find(match)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching command within ' + timeoutMs + ' ms')), timeoutMs)
      this.waiters.push({ match, resolve: (c) => { clearTimeout(timer); resolve(c) } })
    })
  }

  private async onMessage (topic: string, payload: Buffer): Promise<void> {
    if (topic.endsWith('/result')) return
    const message = JSON.parse(payload.toString('utf8')) as Record<string, any>
    const received = { topic, message }
    this.received.push(received)
    this.waiters = this.waiters.filter((w) => { if (w.match(received)) { w.resolve(received); return false } return true })
    const previous = this.answers.get(message.id as string)
    if (previous !== undefined) return await this.answer(message.id as string, previous)
    const what = this.options.behaviour?.(message) ?? 'run'
    if (what === 'ignore') return
    if (what === 'hold') { this.held.push(received); return }
    await this.execute(message, what === 'fail')
  }

  /** Runs a held command now. */
  async release (commandId: string): Promise<void> {
    const held = this.held.find((h) => h.message.id === commandId)
    if (held === undefined) throw new Error('not held: ' + commandId)
    this.held.splice(this.held.indexOf(held), 1)
    await this.execute(held.message, false)
  }

  async answer (commandId: string, result: Record<string, unknown>): Promise<void> {
    await this.client?.publishAsync(`devices/${this.id}/commands/${commandId}/result`, JSON.stringify(result), { qos: 1 })
  }

  async execute (message: Record<string, any>, fail: boolean): Promise<void> {
    this.runs++
    let result: Record<string, unknown>
    if (fail) {
      result = { status: 'error', code: 'cat-busy', message: 'the eUICC is busy' }
    } else if (typeof message.euiccPackageRequest === 'string') {
      result = this.runPackage(Buffer.from(message.euiccPackageRequest, 'base64'))
    } else {
      const code = this.run(message.op as string, message.iccid as string | undefined, message.activationCode as string | undefined)
      result = code === 0 ? { status: 'ok', data: this.data(message) } : { status: 'error', code: `result-${code}` }
    }
    this.answers.set(message.id as string, result)
    await this.answer(message.id as string, result)
  }

  private data (message: Record<string, any>): Record<string, unknown> {
    const out: Record<string, unknown> = { eid: this.options.eid, profiles: this.profiles.map((p) => ({ ...p })) }
    if (message.op === 'download') out.iccid = this.profiles.at(-1)?.iccid
    return out
  }

  /** The operation on the model: 0 ok, 1 ICCID not found, 2 wrong state. */
  run (op: string, iccid?: string, activationCode?: string): number {
    const profile = this.profiles.find((p) => p.iccid === iccid)
    switch (op) {
      case 'enable':
        if (profile === undefined) return 1
        if (profile.state === 'enabled') return 2
        for (const p of this.profiles) p.state = 'disabled'
        profile.state = 'enabled'
        return 0
      case 'disable':
        if (profile === undefined) return 1
        if (profile.state === 'disabled') return 2
        profile.state = 'disabled'
        return 0
      case 'delete':
        if (profile === undefined) return 1
        if (profile.state === 'enabled') return 2
        this.profiles = this.profiles.filter((p) => p !== profile)
        return 0
      case 'setFallback':
        if (profile === undefined) return 1
        for (const p of this.profiles) p.fallback = p === profile
        return 0
      case 'unsetFallback':
        for (const p of this.profiles) if (iccid === undefined || p.iccid === iccid) p.fallback = false
        return 0
      case 'download': {
        if (activationCode === undefined) return 127
        const next = `8995050000000000${String(100 + this.profiles.length).padStart(3, '0')}`
        this.profiles.push({ iccid: next, state: 'disabled' })
        return 0
      }
      case 'listProfiles':
        return 0
      default:
        return 127
    }
  }

  /** An eUICC's handling of EuiccPackageRequest (ESIM.md "SGP.32: the eIM role"). */
  runPackage (der: Uint8Array): Record<string, unknown> {
    const root = decodeDer(der)
    const outer = new DerCursor(root, 'request')
    const signedNode = outer.next(0x30, 'signed')
    const signature = readOctets(outer.next(0x5f37, 'signature'))
    const c = new DerCursor(signedNode, 'signed')
    const eimId = readUtf8(c.next(0x80, 'eimId'))
    const eid = decodeEid(readOctets(c.next(0x5a, 'eid')))
    const counter = readUnsigned(c.next(0x81, 'counter'))
    const tx = readOctets(c.next(0x82, 'tx'))
    const list = c.next(0xa0, 'psmos')
    const unsignedError = (code: string) => ({ status: 'error', code, euiccPackageResult: Buffer.from(tlv(0xbf51, tlv(0xa2, utf8String(eimId, 0x80), octetString(tx, 0x82)))).toString('base64') })
    if (this.eimKey === null || eimId !== this.options.eim?.eimId) return unsignedError('unknown-eim')
    if (!verify('sha256', concat([tlvBytes(signedNode), TOKEN]), { key: this.eimKey, dsaEncoding: 'ieee-p1363' }, signature)) return unsignedError('bad-eim-signature')
    const signedError = (errorCode: number) => {
      const data = sequence(utf8String(eimId, 0x80), integer(counter, 0x81), octetString(tx, 0x82), integer(errorCode))
      return { status: 'error', code: `package-error-${errorCode}`, euiccPackageResult: Buffer.from(tlv(0xbf51, tlv(0xa1, data, octetString(this.sign(data), 0x5f37)))).toString('base64') }
    }
    if (eid !== this.options.eid) return signedError(3)
    if (counter > 0x7fffff) return signedError(6)
    if (counter <= this.counter) return signedError(4)
    this.counter = counter
    const results: Uint8Array[] = []
    let ok = true
    for (const psmo of list.children) {
      const iccidNode = psmo.children.find((n) => n.tag === 0x5a)
      const iccid = iccidNode === undefined ? undefined : decodeIccid(readOctets(iccidNode))
      const op = ({ 0xa3: 'enable', 0xa4: 'disable', 0xa5: 'delete', 0xa8: 'setFallback', 0xa9: 'unsetFallback', 0xbf2d: 'listProfiles' } as Record<number, string>)[psmo.tag] ?? 'unknown'
      if (op === 'listProfiles') {
        results.push(tlv(0xbf2d, tlv(0xa0, ...this.profiles.map((p) => tlv(0xe3, octetString(encodeIccid(p.iccid), 0x5a), integer(p.state === 'enabled' ? 1 : 0, 0x9f70))))))
        continue
      }
      const code = this.run(op, iccid)
      if (code !== 0) ok = false
      results.push(integer(code, ({ enable: 0x83, disable: 0x84, delete: 0x85, setFallback: 0x88, unsetFallback: 0x89 } as Record<string, number>)[op] ?? 0x9f))
    }
    const data = sequence(utf8String(eimId, 0x80), integer(counter, 0x81), octetString(tx, 0x82), integer(1000 + counter, 0x83), sequence(...results))
    const packageResult = Buffer.from(tlv(0xbf51, tlv(0xa0, data, octetString(this.sign(data), 0x5f37)))).toString('base64')
    return ok ? { status: 'ok', euiccPackageResult: packageResult } : { status: 'error', code: 'psmo-failed', euiccPackageResult: packageResult }
  }

  sign (data: Uint8Array): Uint8Array {
    if (this.options.euiccKey === undefined) throw new Error('no eUICC key')
    return new Uint8Array(sign('sha256', concat([data, TOKEN]), { key: this.options.euiccKey, dsaEncoding: 'ieee-p1363' }))
  }
}
