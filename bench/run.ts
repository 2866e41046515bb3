import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** `npm run bench`: runs every `bench/*.bench.ts` in its own process (so one cannot warm up or slow down
 * another) and passes their JSON lines through. `npm run bench -- durable` runs the matching ones. */
const dir = fileURLToPath(new URL('.', import.meta.url))
const filter = process.argv[2] ?? ''
const benches = readdirSync(dir).filter((f) => f.endsWith('.bench.ts') && f.includes(filter)).sort()
let failed = 0
for (const file of benches) {
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', dir + file], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) {
    failed++
    console.log(JSON.stringify({ bench: file.replace('.bench.ts', ''), error: `exited with ${result.status ?? result.signal}` }))
  }
}
process.exitCode = failed > 0 ? 1 : 0
