// The dashboard's catalogues at build time (web/build.ts): the Myanmar one bundled as its values, and
// the message keys shortened wherever the source names them literally.
import { build, type Plugin } from 'esbuild'
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

/**
 * The Myanmar catalogue without its keys: my.ts has exactly en.ts's keys (its type and
 * test/web/i18n.test.ts say so), so it is bundled as its values in en.ts's key order and rebuilt from
 * en's keys when loaded; each key is then in the bundle once less (about 1 KB gzipped).
 */
export const catalogueValues: Plugin = {
  name: 'catalogue-values',
  setup (pluginBuild) {
    pluginBuild.onLoad({ filter: /[\\/]web[\\/]src[\\/]i18n[\\/]my\.ts$/ }, async args => {
      const [{ en }, { my }] = await Promise.all([evaluate(join(dirname(args.path), 'en.ts')), evaluate(args.path)])
      const values = Object.keys(en).map(key => my[key] ?? en[key])
      return {
        contents: `import { en, type MessageKey } from './en.ts'
const values = ${JSON.stringify(values)}
export const my = Object.fromEntries(Object.keys(en).map((key, i) => [key, values[i]])) as Record<MessageKey, string>`,
        loader: 'ts'
      }
    })
  }
}

/**
 * A rewrite of a source file of `srcDir` that replaces every single-quoted string literal equal to a
 * message key ('admin.users.email', in t() calls, in en.ts's object and in data such as the columns'
 * labels) with a short name of its own (from its place in en.ts; no dot, so never another key).
 * Keys the source builds at run time (`role.${r}`: any key under a prefix some template literal ends in
 * `${`) keep the rest of their names after a short prefix (`3.admin`), in the keys and the templates. The bundle then carries each key's name at most once less (about 2 KB gzipped).
 */
export async function shortKeys (srcDir: string): Promise<(source: string) => string> {
  const { en } = await evaluate(join(srcDir, 'i18n', 'en.ts'))
  const prefixes = new Set<string>()
  for (const file of await readdir(srcDir, { recursive: true })) {
    if (!file.endsWith('.ts')) continue
    for (const match of (await readFile(join(srcDir, file), 'utf8')).matchAll(/`([\w.-]+\.)\$\{/g)) prefixes.add(match[1])
  }
  // longest first, so `usage.plan.` wins over `usage.`; each becomes a number and a dot
  const ordered = [...prefixes].sort((a, b) => b.length - a.length)
  const shortPrefix = new Map(ordered.map((prefix, i) => [prefix, `${i}.`]))
  const short = new Map<string, string>()
  Object.keys(en).forEach((key, i) => {
    const prefix = ordered.find(p => key.startsWith(p))
    short.set(key, prefix === undefined ? shortName(i) : shortPrefix.get(prefix) + key.slice(prefix.length))
  })
  return source => source
    .replace(/'([\w.-]+)'/g, (whole, key: string) => {
      const name = short.get(key)
      return name === undefined ? whole : `'${name}'`
    })
    .replace(/`([\w.-]+\.)\$\{/g, (whole, prefix: string) => `\`${shortPrefix.get(prefix) ?? prefix}\${`)
}

const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
/** A name that never looks like an array index (an object orders those first, and my.ts is rebuilt in
 * en.ts's key order): a letter, then letters and digits. */
function shortName (i: number): string {
  const alphabet = letters + '0123456789_$'
  let name = letters[i % letters.length]
  for (let rest = Math.floor(i / letters.length); rest > 0; rest = Math.floor(rest / alphabet.length)) name += alphabet[rest % alphabet.length]
  return name
}

/** A catalogue module (with the parts it imports), evaluated from its source as it is now. */
async function evaluate (path: string): Promise<Record<string, Record<string, string>>> {
  const { outputFiles } = await build({ entryPoints: [path], bundle: true, write: false, format: 'esm', platform: 'neutral', logLevel: 'silent' })
  return await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].contents).toString('base64')}`)
}
