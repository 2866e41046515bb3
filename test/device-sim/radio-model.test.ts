import t from 'tap'
import { parseTelemetry } from '../../protocol/telemetry.ts'
import { CARRIERS } from '../../device-sim/carriers.ts'
import { RadioModel } from '../../device-sim/radio-model.ts'
import { Random } from '../../device-sim/random.ts'

t.test('samples are valid telemetry and move like a real link', async (t) => {
  const rng = new Random(42)
  let handovers = 0
  for (let d = 0; d < 50; d++) {
    const mobile = d % 2 === 0
    const radio = new RadioModel(rng.fork(), CARRIERS[d % CARRIERS.length]!, { mobile, battery: true })
    const start = Date.UTC(2025, 5, 1)
    let previous: ReturnType<RadioModel['sample']> | null = null
    for (let i = 0; i < 720; i++) {
      const sample = radio.sample(start + i * 10_000, i) // two hours every 10 s
      if (i % 60 === 0) {
        const parsed = parseTelemetry(Buffer.from(JSON.stringify(sample)), start + i * 10_000)
        if (!parsed.ok) t.fail(parsed.detail)
      }
      if (previous !== null) {
        if (sample.bytesUp! <= previous.bytesUp! || sample.bytesDown! <= previous.bytesDown!) t.fail('counters must grow')
        if (sample.uptime! < previous.uptime!) t.fail('uptime must not go back')
        if (Math.abs(sample.rsrp! - previous.rsrp!) > 40 && sample.cellId === previous.cellId) t.fail('no jumps without a handover')
      }
      previous = sample
    }
    handovers += radio.handovers
    t.equal(previous!.mcc, '414')
    t.equal(previous!.mnc, CARRIERS[d % CARRIERS.length]!.mnc)
  }
  t.ok(handovers > 10, `${handovers} handovers in the fleet`)
})

t.test('battery drains; a profile switch moves the device to the other network', async (t) => {
  const radio = new RadioModel(new Random(3), CARRIERS[0]!, { battery: true, mobile: false })
  const t0 = Date.UTC(2025, 0, 1)
  const first = radio.sample(t0, 0)
  const later = radio.sample(t0 + 3_600_000, 1)
  t.ok(later.battery! < first.battery!, `battery ${first.battery} → ${later.battery}`)
  const fixed = new RadioModel(new Random(3), CARRIERS[0]!, { battery: false })
  t.equal(fixed.sample(t0, 0).battery, undefined, 'mains-powered devices report no battery')
  radio.attach(CARRIERS[3]!)
  const after = radio.sample(t0 + 3_610_000, 2)
  t.equal(after.mnc, '09')
  t.ok(['LTE', 'NB-IoT'].includes(after.rat!), `Mytel RAT ${after.rat}`)
})

t.test('the seeded generator repeats itself', async (t) => {
  const a = new Random(123)
  const b = new Random(123)
  t.same(Array.from({ length: 5 }, () => a.next()), Array.from({ length: 5 }, () => b.next()))
  t.ok(Array.from({ length: 1000 }, () => a.int(1, 3)).every((n) => n >= 1 && n <= 3))
  t.throws(() => a.pick([]))
})
