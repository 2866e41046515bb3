// `npm run sim` / `device-sim`: parses the options, runs the command, turns Ctrl-C into a clean stop
// (a second Ctrl-C exits at once) and errors into a message and an exit code.
import { runCli } from './commands.ts'
import type { LoadRunner } from './engine.ts'
import { OptionsError, parseOptions } from './options.ts'

async function main (): Promise<number> {
  let options
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err
    process.stderr.write(`device-sim: ${err.message}\nRun device-sim --help for the options.\n`)
    return 2
  }
  const abort = new AbortController()
  let runner: LoadRunner | null = null
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130)
    interrupted = true
    process.stderr.write(`\ndevice-sim: ${signal}, stopping (again to quit at once)\n`)
    abort.abort()
    runner?.stop('signal')
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    return await runCli(options, {
      stdout: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
      stderr: (text) => process.stderr.write(text.endsWith('\n') || text.startsWith('\r') ? text : text + '\n'),
      stderrIsTty: process.stderr.isTTY === true,
      signal: abort.signal,
      onRunner: (r) => {
        runner = r
        if (interrupted) r.stop('signal')
      }
    })
  } catch (err) {
    const e = err as Error & { code?: string }
    const known = typeof e.code === 'string' && e.code.startsWith('SIM_ERR_')
    process.stderr.write(`device-sim: ${known ? e.message : (e.stack ?? e.message)}\n`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

main().then((code) => { process.exitCode = code })
