// A small seeded PRNG (sfc32) so a run with --seed makes the same fleet behave the same way.
// Not for secrets: keys, device secrets and transaction ids come from node:crypto.
import { randomInt } from 'node:crypto'

export class Random {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor (seed: number = randomInt(0, 2 ** 32)) {
    this.a = 0x9e3779b9
    this.b = 0x243f6a88
    this.c = 0xb7e15162
    this.d = seed >>> 0
    for (let i = 0; i < 15; i++) this.next()
  }

  /** A uniform number in [0, 1). */
  next (): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return (t >>> 0) / 4294967296
  }

  /** An integer in [min, max], both included. */
  int (min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  between (min: number, max: number): number {
    return min + this.next() * (max - min)
  }

  chance (p: number): boolean {
    return p > 0 && this.next() < p
  }

  pick<T> (items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[Math.floor(this.next() * items.length)]!
  }

  /** A normally distributed number (Box–Muller). */
  normal (mean = 0, sd = 1): number {
    const u = 1 - this.next()
    const v = this.next()
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** `count` random decimal digits. */
  digits (count: number): string {
    let out = ''
    for (let i = 0; i < count; i++) out += String(Math.floor(this.next() * 10))
    return out
  }

  /** A child generator with its own stream, so one device's draws do not shift another's. */
  fork (): Random {
    return new Random(Math.floor(this.next() * 4294967296))
  }
}
