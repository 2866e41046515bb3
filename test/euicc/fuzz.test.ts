// Mutation fuzzing, bounded in time: the DER reader and the notification decoder may throw
// DerDecodeError and nothing else; the verifier and chain check never throw.
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { DerDecodeError, decodeDer } from '../../esim/der-reader.ts'
import { decodePendingNotification } from '../../esim/pending-notification.ts'
import { readCertificateFields } from '../../esim/certificate-fields.ts'
import { verifyNotification } from '../../esim/notification-verifier.ts'
import { verifyEuiccChain } from '../../esim/certificate-chain.ts'
import { encodeInstallationResult, encodeOtherSignedNotification } from '../../esim/notification-encoder.ts'
import { createTestPki } from '../../esim/test-pki.ts'

const BUDGET_MS = 3000
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000)

function prng (s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}
const random = prng(seed)
const int = (n: number): number => Math.floor(random() * n)

const pki = createTestPki()
const common = { seqNumber: 9, notificationAddress: 'smdp.example.com', iccid: '8949449999999990031', privateKey: pki.euicc.privateKey }
const seeds: Uint8Array[] = [
  encodeOtherSignedNotification({ ...common, operation: 'enable', euiccCertificateDer: pki.euicc.certificateDer, eumCertificateDer: pki.eum.certificateDer }),
  encodeInstallationResult({ ...common, operation: 'install', transactionId: Uint8Array.of(1, 2, 3), finalResult: { kind: 'success', aid: new Uint8Array(16), simaResponse: Uint8Array.of(0x30, 0) } }),
  encodeInstallationResult({ ...common, operation: 'install', transactionId: Uint8Array.of(1), finalResult: { kind: 'error', bppCommandId: 1, errorReason: 8, simaResponse: Uint8Array.of(1) } })
]
const real = new URL('../../../shared/testdata/sgp22-real/pir-sysmo-euicc.der', import.meta.url)
if (existsSync(real)) seeds.push(new Uint8Array(readFileSync(real)))
const INTERESTING = [0x00, 0x01, 0x1f, 0x30, 0x7f, 0x80, 0x81, 0x82, 0x84, 0x85, 0xa0, 0xbf, 0xff]

function mutate (input: Uint8Array): Uint8Array {
  const out = new Uint8Array(input)
  switch (int(7)) {
    case 0: // bit flips
      for (let i = 0, n = 1 + int(4); i < n; i++) out[int(out.length)]! ^= 1 << int(8)
      return out
    case 1: // truncation
      return out.subarray(0, int(out.length))
    case 2: // length or tag tampering with boundary values
      out[int(Math.min(out.length, 64))] = INTERESTING[int(INTERESTING.length)]!
      return out
    case 3: { // a length byte off by a little
      const i = int(out.length)
      out[i] = (out[i]! + int(5) - 2) & 0xff
      return out
    }
    case 4: { // insert or delete a run
      const at = int(out.length)
      const run = 1 + int(8)
      return random() < 0.5
        ? new Uint8Array([...out.subarray(0, at), ...Array.from({ length: run }, () => int(256)), ...out.subarray(at)])
        : new Uint8Array([...out.subarray(0, at), ...out.subarray(at + run)])
    }
    case 5: // random bytes with a plausible start
      return Uint8Array.from([[0x30, 0xbf, 0x5f][int(3)]!, ...Array.from({ length: int(300) }, () => int(256))])
    default: // splice two seeds
      return new Uint8Array([...out.subarray(0, int(out.length)), ...seeds[int(seeds.length)]!.subarray(int(100))])
  }
}

t.test(`mutated inputs throw DerDecodeError only (seed ${seed}, FUZZ_SEED to replay)`, async t => {
  const deadline = Date.now() + BUDGET_MS
  let runs = 0
  let rejected = 0
  let unexpected: string | undefined
  while (Date.now() < deadline && unexpected === undefined) {
    let input = seeds[int(seeds.length)]!
    for (let i = 0, n = 1 + int(3); i < n; i++) input = mutate(input)
    const hex = Buffer.from(input).toString('hex')
    for (const decode of [decodeDer, decodePendingNotification, readCertificateFields]) {
      try {
        decode(input)
      } catch (err) {
        if (!(err instanceof DerDecodeError)) unexpected = `${decode.name} threw ${String(err)} for ${hex}`
        rejected++
      }
    }
    try {
      const r = verifyNotification(input, { trustAnchors: [pki.ci.certificateDer], knownEuiccCertificate: pki.euicc.certificateDer })
      if (typeof r.ok !== 'boolean') unexpected = `verifyNotification returned ${JSON.stringify(r)}`
      verifyEuiccChain(input, pki.eum.certificateDer, { trustAnchors: [pki.ci.certificateDer] })
    } catch (err) {
      unexpected = `verification threw ${String(err)} for ${hex}`
    }
    runs++
  }
  t.equal(unexpected, undefined, 'no other exception')
  t.ok(runs > 100, `${runs} mutated inputs, ${rejected} rejections`)
})

t.test('mutated certificates never make the chain check throw', async t => {
  const deadline = Date.now() + 1000
  let runs = 0
  let unexpected: string | undefined
  while (Date.now() < deadline && unexpected === undefined) {
    const euicc = mutate(pki.euicc.certificateDer)
    const eum = mutate(pki.eum.certificateDer)
    try {
      const r = verifyEuiccChain(euicc, eum, { trustAnchors: [pki.ci.certificateDer] })
      if (r.ok && (Buffer.compare(euicc, pki.euicc.certificateDer) !== 0 || Buffer.compare(eum, pki.eum.certificateDer) !== 0)) {
        // a mutation inside the signature value can still verify only if it did not change the bytes
        unexpected = `a changed certificate verified: ${Buffer.from(euicc).toString('hex')}`
      }
    } catch (err) {
      unexpected = `threw ${String(err)}`
    }
    runs++
  }
  t.equal(unexpected, undefined)
  t.ok(runs > 50, `${runs} mutated chains`)
})
