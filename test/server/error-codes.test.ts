import { readFile } from 'node:fs/promises'
import t from 'tap'
import { ErrorBody } from '../../server/routes/schemas.ts'
import { errors, startupErrors } from '../../server/errors.ts'
import { startTestHub } from '../helpers/test-hub.ts'

// Every coded error the hub answers or exits with is in server/errors.ts, and each is documented in
// docs/api.md "Error codes" with its status; a code documented there exists. Routes declare their error
// answers with the one ErrorBody schema.

const errorsSource = await readFile(new URL('../../server/errors.ts', import.meta.url), 'utf8')
const apiDoc = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8')

/** code → status as the code runs: an HTTP status, or `exit` for an error that stops a start. */
const defined = new Map<string, number | 'exit'>()
for (const Coded of Object.values(errors)) {
  const error = new Coded('x')
  defined.set(error.code, error.statusCode ?? 500)
}
for (const Startup of Object.values(startupErrors)) defined.set(Startup.code, 'exit')

/** The rows of the table under "## Error codes": code → status cell. */
function documentedCodes (markdown: string): Map<string, string> {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Error codes\n'))
  if (section === undefined) throw new Error('docs/api.md has no "## Error codes" section')
  const rows = new Map<string, string>()
  for (const line of section.split('\n')) {
    const cells = /^\| `([A-Z0-9_]+)` \| ([^|]+) \|/.exec(line)
    if (cells !== null) rows.set(cells[1], cells[2].trim())
  }
  return rows
}

t.test('every HUB_ERR_ code written in server/errors.ts is one of its errors or startup errors', async (t) => {
  const written = new Set(errorsSource.match(/'HUB_ERR_[A-Z0-9_]+'/g)?.map((quoted) => quoted.slice(1, -1)))
  t.ok(written.size > 0)
  t.same([...written].filter((code) => !defined.has(code)), [], 'no code outside `errors` and `startupErrors`')
  t.same([...defined.keys()].filter((code) => !code.startsWith('HUB_ERR_')), [], 'every code is HUB_ERR_…')
})

t.test('every code is documented in docs/api.md "Error codes", with its status', async (t) => {
  const documented = documentedCodes(apiDoc)
  t.same([...defined.keys()].filter((code) => !documented.has(code)), [], 'no code missing from docs/api.md')
  t.same([...documented.keys()].filter((code) => !defined.has(code)), [], 'no documented code that server/errors.ts lacks')
  for (const [code, status] of defined) {
    const cell = documented.get(code)
    if (cell === undefined) continue
    if (status === 'exit') {
      t.match(cell, /^exit \d+$/, `${code}: the hub exits with it`)
    } else {
      // `4xx`/`5xx` for an error whose status is its own within the class
      t.ok(new RegExp('^' + cell.replace(/x/g, '\\d') + '$').test(String(status)), `${code}: documented ${cell}, answers ${status}`)
    }
  }
})

t.test('the documentation test reads the table it means', async (t) => {
  const table = '## Error codes\n\n| code | status | meaning |\n|---|---|---|\n| `HUB_ERR_A` | 400 | a |\n| `HUB_ERR_B` | exit 1 | b |\n\n## Next\n| `HUB_ERR_C` | 400 | elsewhere |\n'
  t.same([...documentedCodes(table)], [['HUB_ERR_A', '400'], ['HUB_ERR_B', 'exit 1']])
  t.throws(() => documentedCodes('# no such section\n'))
})

t.test('every declared 4xx/5xx answer of every route is ErrorBody', async (t) => {
  const hub = await startTestHub(t)
  const doc = await (await fetch(hub.httpUrl + '/docs/json')).json() as {
    paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>
  }
  const expected = JSON.parse(JSON.stringify(ErrorBody)) as unknown
  let declared = 0
  const others: string[] = []
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (!/^[45]/.test(status)) continue
        declared++
        const schema = response.content?.['application/json']?.schema
        if (JSON.stringify(schema) !== JSON.stringify(expected)) others.push(`${method.toUpperCase()} ${path} ${status}: ${JSON.stringify(schema)}`)
      }
    }
  }
  t.ok(declared > 0, `${declared} declared error answers`)
  t.same(others, [], 'every declared error answer is ErrorBody')
})
