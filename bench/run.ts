import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseLines, writeReport, type BenchLine } from './report.ts'

/** `npm run bench`: runs every `bench/*.bench.ts` in its own process (so one cannot warm up or slow down
 * another) and passes their JSON lines through. `npm run bench -- durable` runs the matching ones.
 * `--report` then writes docs/benchmarks.md's generated block and docs/benchmarks.svg from the lines;
 * `--report --from <file>` writes them from a file of JSON lines instead of running anything. */
const dir = fileURLToPath(new URL('.', import.meta.url))
const args = process.argv.slice(2)
const report = args.includes('--report')
const fromAt = args.indexOf('--from')
const from = fromAt >= 0 ? args[fromAt + 1] : undefined
if (fromAt >= 0 && (from === undefined || from.startsWith('--'))) throw new Error('--from needs a file of JSON lines')
const filter = args.filter((a, i) => !a.startsWith('--') && (fromAt < 0 || i !== fromAt + 1))[0] ?? ''

function runBench (file: string): Promise<{ code: number | null, signal: string | null, lines: BenchLine[] }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', dir + file], { stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => { process.stdout.write(chunk); text += chunk.toString() })
    child.once('close', (code, signal) => resolve({ code, signal, lines: parseLines(text) }))
  })
}

let lines: BenchLine[] = []
let failed = 0
if (from !== undefined) {
  lines = parseLines(readFileSync(from, 'utf8'))
} else {
  const benches = readdirSync(dir).filter((f) => f.endsWith('.bench.ts') && f.includes(filter)).sort()
  for (const file of benches) {
    const result = await runBench(file)
    lines.push(...result.lines)
    if (result.code !== 0) {
      failed++
      const line: BenchLine = { bench: file.replace('.bench.ts', ''), error: `exited with ${result.code ?? result.signal}` }
      console.log(JSON.stringify(line))
      lines.push(line)
    }
  }
}
if (report) {
  const docs = fileURLToPath(new URL('../docs/', import.meta.url))
  const info = writeReport(lines, docs + 'benchmarks.md', docs + 'benchmarks.svg')
  process.stderr.write(`bench report: ${lines.length} lines of ${info.date} written to docs/benchmarks.md and docs/benchmarks.svg\n`)
}
process.exitCode = failed > 0 ? 1 : 0
