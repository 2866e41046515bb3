import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { parseFaults } from '../../device-sim/faults.ts'
import { DEFAULT_FLEET_FILE, HELP, OPTION_SPEC, OptionsError, parseDuration, parseOptions } from '../../device-sim/options.ts'

const problems = (argv: string[], env: Record<string, string> = {}): string[] => {
  try {
    parseOptions(argv, env)
  } catch (err) {
    if (err instanceof OptionsError) return err.problems
    throw err
  }
  throw new Error('expected an OptionsError')
}

t.test('defaults', async (t) => {
  const o = parseOptions([], {})
  t.match(o, {
    command: 'run',
    url: undefined,
    apiUrl: undefined,
    count: undefined,
    connrate: 40,
    intervalMs: 5000,
    qos: 1,
    durationMs: 0,
    workers: 1,
    sourceIps: 'auto',
    fleet: DEFAULT_FLEET_FILE,
    agent: 'lpa',
    carriers: ['mpt', 'ooredoo', 'atom', 'mytel'],
    faults: {},
    json: false
  })
})

t.test("emqtt-bench's names and short options", async (t) => {
  const o = parseOptions(['-c', '200', '-R', '50', '-I', '250', '-q', '0', '-d', '30', '-w', '4', '-u', 'mqtt://127.0.0.1:1884', '--json'], {})
  t.match(o, { count: 200, connrate: 50, intervalMs: 250, qos: 0, durationMs: 30_000, workers: 4, url: 'mqtt://127.0.0.1:1884', json: true })
  t.equal(parseOptions(['--interval', '2s', '--duration', '5m', '--notify-interval', '90s', '--download-time', '500ms'], {}).intervalMs, 2000)
  t.match(parseOptions(['--duration', '5m', '--notify-interval', '90', '--download-time', '500ms'], {}), { durationMs: 300_000, notifyIntervalMs: 90_000, downloadMs: 500 })
})

t.test('commands and credentials', async (t) => {
  t.equal(parseOptions(['pki', '--register'], {}).command, 'pki')
  t.equal(parseOptions(['provision'], {}).command, 'provision')
  t.equal(parseOptions(['help'], {}).command, 'help')
  t.equal(parseOptions(['run', '--help'], {}).command, 'help')
  const fromEnv = parseOptions([], { HUB_ADMIN_EMAIL: 'a@b.c', HUB_ADMIN_PASSWORD: 'secret password', DEVICE_SIM_API_KEY: 'k1' })
  t.match(fromEnv, { email: 'a@b.c', password: 'secret password', apiKey: 'k1' })
  t.equal(parseOptions(['--email', 'x@y.z', '--password', 'pw'], { HUB_ADMIN_EMAIL: 'a@b.c' }).email, 'x@y.z', 'the command line wins')
  t.same(parseOptions(['--source-ips', '127.0.0.2,127.0.0.3'], {}).sourceIps, ['127.0.0.2', '127.0.0.3'])
})

t.test('faults', async (t) => {
  t.same(parseFaults('bad-signature=0.5,duplicate'), { 'bad-signature': 0.5, duplicate: 0.1 })
  t.same(parseFaults(''), {})
  t.throws(() => parseFaults('explode'), /unknown fault "explode"/)
  t.throws(() => parseFaults('duplicate=2'), /probability must be a number from 0 to 1/)
  t.throws(() => parseFaults('duplicate='), /probability/)
  t.same(parseOptions(['--faults', 'disconnect=0.02,fail-ops'], {}).faults, { disconnect: 0.02, 'fail-ops': 0.2 })
})

t.test('durations', async (t) => {
  t.equal(parseDuration('250', 'ms'), 250)
  t.equal(parseDuration('250', 's'), 250_000)
  t.equal(parseDuration('1.5s', 'ms'), 1500)
  t.equal(parseDuration('2h', 's'), 7_200_000)
  t.equal(parseDuration('soon', 's'), null)
  t.equal(parseDuration('-1', 's'), null)
})

t.test('every bad value is reported at once, naming the option', async (t) => {
  const list = problems(['--count', '0', '--qos', '2', '--interval', 'fast', '--url', 'http://hub', '--faults', 'explode',
    '--carriers', 'vodafone', '--agent', 'sgp', '--workers', '100', '--api-url', 'ftp://x', '--curve', 'P-384', '--eum-prefix', '12'])
  t.equal(list.length, 11, list.join('\n'))
  for (const name of ['--count', '--qos', '--interval', '--url', '--faults', '--carriers', '--agent', '--workers', '--api-url', '--curve', '--eum-prefix']) {
    t.ok(list.some((p) => p.startsWith(name)), `${name} is named`)
  }
  t.match(problems(['--qos', '2']), [/must be 0 or 1/])
  t.match(problems(['--interval', '5ms']), [/at least 10 ms/])
  t.match(problems(['--bogus']), [/Unknown option '--bogus'/])
  t.match(problems(['-c']), [/argument missing/])
  t.match(problems(['launch']), [/unknown command "launch"/])
  t.match(problems(['--email', 'a@b.c']), [/--email needs --password/])
  t.match(problems(['--password', 'x']), [/--password needs --email/])
  t.match(problems(['--insecure', '--ca', 'ca.pem']), [/exclude each other/])
  t.match(problems(['--source-ips', 'here']), [/--source-ips/])
  t.match(problems(['--notify-interval', '100ms']), [/--notify-interval must be 0 or at least 1s/])
  t.match(problems(['--tags', 'a\u0001b']), [/--tags/])
})

t.test('--help explains every option and shows examples', async (t) => {
  for (const [name, spec] of Object.entries(OPTION_SPEC)) {
    t.ok(HELP.includes(`--${name}`), `--${name} is in the help`)
    if ('short' in spec) t.ok(HELP.includes(`-${spec.short}, --${name}`), `-${spec.short} is in the help`)
  }
  t.match(HELP, /Examples\n\s+npm start/)
})

t.test('the device-sim executable', async (t) => {
  const bin = fileURLToPath(new URL('../../device-sim/bin.js', import.meta.url))
  const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(help.status, 0)
  t.match(help.stdout, /^device-sim — /)
  const bad = spawnSync(process.execPath, [bin, '--count', 'many', '--qos', '3'], { encoding: 'utf8', timeout: 30_000 })
  t.equal(bad.status, 2, 'exit code 2 for bad options')
  t.match(bad.stderr, /invalid options:\n {2}- --count "many" must be an integer.*\n {2}- --qos "3" must be 0 or 1/)
  t.match(bad.stderr, /Run device-sim --help/)
  t.equal(bad.stdout, '')
})
