// Telemetry that moves like a real cellular link: signal levels drift around a per-cell mean (an
// Ornstein–Uhlenbeck walk) with RSRQ/SINR/RSSI following RSRP, handovers to new cells (more often when the
// signal is weak or the device moves), monotonic data counters, battery drain and a daily temperature cycle.
import type { TelemetrySample } from '../protocol/telemetry.ts'
import type { Carrier, Rat } from './carriers.ts'
import type { Random } from './random.ts'

interface RatProfile {
  /** Range of per-cell mean RSRP, dBm. */
  meanRsrp: [number, number]
  /** Range RSRP is clamped to, dBm. */
  rsrp: [number, number]
  sinr: [number, number]
  /** RSSI − RSRP, dB (10·log10 of the resource elements measured). */
  rssiOffset: number
  /** Typical data moved per telemetry interval, bytes. */
  traffic: number
}

const RATS: Record<Rat, RatProfile> = {
  LTE: { meanRsrp: [-115, -75], rsrp: [-140, -44], sinr: [-20, 30], rssiOffset: 27.8, traffic: 4000 },
  'LTE-M': { meanRsrp: [-120, -80], rsrp: [-150, -44], sinr: [-20, 30], rssiOffset: 17.8, traffic: 800 },
  'NB-IoT': { meanRsrp: [-125, -85], rsrp: [-156, -44], sinr: [-20, 25], rssiOffset: 10.8, traffic: 200 },
  NR: { meanRsrp: [-110, -70], rsrp: [-140, -44], sinr: [-23, 40], rssiOffset: 30, traffic: 20000 }
}
/** Mean reversion of the signal level, 1/s, and its spread around the cell's mean, dB. */
const THETA = 0.05
const SPREAD = 4
const RAT_WEIGHTS: Record<Rat, number> = { LTE: 5, 'LTE-M': 2.5, 'NB-IoT': 1.5, NR: 1 }

/** Places the fleet is spread over: Yangon, Mandalay, Naypyidaw, Mawlamyine, Bago. */
const SITES: ReadonlyArray<[number, number]> = [[16.84, 96.17], [21.97, 96.08], [19.76, 96.07], [16.49, 97.63], [17.33, 96.48]]

export interface RadioOptions {
  /** Moves (a tracker) rather than sitting still (a meter). Default: one device in five. */
  mobile?: boolean
  /** Runs on a battery. Default: two devices in three. */
  battery?: boolean
  /** Boot time, ms epoch. */
  bootAt?: number
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v))
const round = (v: number, step: number) => Math.round(v / step) * step
const fix = (v: number, digits: number) => Number(v.toFixed(digits))

export class RadioModel {
  private carrier: Carrier
  private rat: Rat = 'LTE'
  private band = 3
  private cellId = 0
  private tac = 0
  private meanRsrp = -95
  private rsrp = -95
  private sinr = 10
  private bytesUp = 0
  private bytesDown = 0
  private battery: number | null
  private readonly drainPerHour: number
  private readonly tempOffset: number
  private lat: number
  private lon: number
  private heading: number
  private readonly mobile: boolean
  private readonly bootAt: number
  private last: number | null = null
  /** Cell changes so far (for tests and the summary). */
  handovers = 0

  constructor (private readonly rng: Random, carrier: Carrier, options: RadioOptions = {}) {
    this.carrier = carrier
    this.mobile = options.mobile ?? rng.chance(0.2)
    this.battery = (options.battery ?? rng.chance(2 / 3)) ? rng.between(40, 100) : null
    this.drainPerHour = rng.between(0.3, 3)
    this.tempOffset = rng.normal(0, 3)
    const [lat, lon] = rng.pick(SITES)
    this.lat = lat + rng.normal(0, 0.05)
    this.lon = lon + rng.normal(0, 0.05)
    this.heading = rng.between(0, 2 * Math.PI)
    this.bootAt = options.bootAt ?? Date.now() - rng.int(60, 30 * 86400) * 1000
    this.attach(carrier)
  }

  get currentRat (): Rat { return this.rat }
  get currentCellId (): number { return this.cellId }
  get currentCarrier (): Carrier { return this.carrier }

  /** Registers on `carrier`'s network (after a profile switch): new RAT, band and cell. */
  attach (carrier: Carrier): void {
    this.carrier = carrier
    const rats = carrier.rats.filter((r) => carrier.bands[r].length > 0)
    this.rat = this.weightedRat(rats.length > 0 ? rats : ['LTE'])
    this.newCell()
    this.rsrp = this.meanRsrp
  }

  /** The next sample at `now` (ms), advancing the model by the time since the previous one. */
  sample (now: number, seq: number, payloadBytes = 300): TelemetrySample {
    const dt = this.last === null ? 1 : clamp((now - this.last) / 1000, 0.001, 3600)
    this.last = now
    const p = RATS[this.rat]

    // Signal: mean-reverting walk around the cell's mean; a weak or moving device hands over sooner.
    // Exact OU step: reversion rate THETA per second, stationary spread SPREAD dB.
    const decay = Math.exp(-THETA * dt)
    this.rsrp = this.meanRsrp + (this.rsrp - this.meanRsrp) * decay + SPREAD * Math.sqrt(1 - decay * decay) * this.rng.normal()
    this.rsrp = clamp(this.rsrp, p.rsrp[0], p.rsrp[1])
    const handoverRate = (this.mobile ? 1 / 120 : 1 / 3600) + (this.rsrp < -115 ? 1 / 60 : 0)
    if (this.rng.chance(1 - Math.exp(-handoverRate * dt))) {
      // The modem moves to a cell it hears better (usually): the level starts near the new cell's mean.
      this.newCell(this.rsrp)
      this.rsrp = clamp(this.meanRsrp + this.rng.normal(0, 2), p.rsrp[0], p.rsrp[1])
      this.handovers++
    }
    const sinrTarget = (this.rsrp - p.rsrp[0]) * 0.45 - 12
    this.sinr = clamp(this.sinr + 0.5 * (sinrTarget - this.sinr) + this.rng.normal(0, 1.5), p.sinr[0], p.sinr[1])
    const rsrq = clamp(round(-19.5 + (this.sinr + 20) * 0.33 + this.rng.normal(0, 0.7), 0.5), -19.5, -3)
    const rssi = clamp(Math.round(this.rsrp + p.rssiOffset + this.rng.normal(0, 1)), -120, -25)

    // Counters only go up: this sample's own bytes plus whatever else the application moved.
    this.bytesUp += payloadBytes + 60 + Math.round(this.rng.between(0, p.traffic) * Math.min(dt, 60) / 10)
    this.bytesDown += 40 + Math.round(this.rng.between(0, p.traffic * 2) * Math.min(dt, 60) / 10)

    if (this.battery !== null) {
      this.battery -= this.drainPerHour * dt / 3600 + 0.0005
      if (this.battery < 3) this.battery = 100 // someone changed it
    }
    if (this.mobile) {
      this.heading += this.rng.normal(0, 0.2)
      const metres = this.rng.between(0, 15) * Math.min(dt, 60)
      this.lat = clamp(this.lat + Math.cos(this.heading) * metres / 111_000, 9.6, 28.5)
      this.lon = clamp(this.lon + Math.sin(this.heading) * metres / (111_000 * Math.cos(this.lat * Math.PI / 180)), 92.2, 101.2)
    }
    const hour = new Date(now).getUTCHours() + 6.5 // Myanmar time
    const temperature = 28 + 5 * Math.sin(2 * Math.PI * (hour - 9) / 24) + this.tempOffset + this.rng.normal(0, 0.3)
    const jitter = this.mobile ? 0 : 0.00003

    const sample: TelemetrySample = {
      ts: now,
      seq,
      rat: this.rat,
      mcc: this.carrier.mcc,
      mnc: this.carrier.mnc,
      cellId: this.cellId,
      tac: this.tac,
      band: this.band,
      rsrp: Math.round(this.rsrp),
      rsrq,
      sinr: fix(this.sinr, 1),
      rssi,
      bytesUp: this.bytesUp,
      bytesDown: this.bytesDown,
      temperature: fix(temperature, 1),
      uptime: Math.max(0, Math.floor((now - this.bootAt) / 1000)),
      lat: fix(this.lat + this.rng.normal(0, jitter), 6),
      lon: fix(this.lon + this.rng.normal(0, jitter), 6)
    }
    if (this.battery !== null) sample.battery = fix(this.battery, 1)
    return sample
  }

  private newCell (current?: number): void {
    const p = RATS[this.rat]
    const bands = this.carrier.bands[this.rat]
    this.band = bands.length > 0 ? this.rng.pick(bands) : 3
    // E-UTRAN cell id: 20-bit eNodeB id and 8-bit sector; NR cell ids are 36 bits.
    this.cellId = this.rat === 'NR'
      ? this.rng.int(1, 2 ** 26) * 1024 + this.rng.int(1, 3)
      : this.rng.int(1, 2 ** 20 - 1) * 256 + this.rng.int(1, 3)
    if (this.tac === 0 || this.rng.chance(0.2)) this.tac = this.rng.int(1, 65_533)
    const draw = () => this.rng.between(p.meanRsrp[0], p.meanRsrp[1])
    this.meanRsrp = current === undefined ? draw() : Math.max(draw(), draw())
  }

  private weightedRat (rats: readonly Rat[]): Rat {
    const total = rats.reduce((sum, r) => sum + RAT_WEIGHTS[r], 0)
    let x = this.rng.next() * total
    for (const r of rats) {
      x -= RAT_WEIGHTS[r]
      if (x < 0) return r
    }
    return rats[rats.length - 1]!
  }
}
