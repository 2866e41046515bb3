// Builds the dashboard into web/dist: `npm run build:web`, or buildWeb() from a test.
import { build, type Plugin } from 'esbuild'
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib'

const webDir = dirname(fileURLToPath(import.meta.url))
const staticFiles = ['index.html', 'app.css', 'favicon.svg']
/** The Myanmar web font (@fontsource/noto-sans-myanmar, Myanmar subset, regular and semibold), served
 * from /fonts/ by the hub itself (app.css names them in @font-face): nothing from a CDN. */
const fontFiles = [400, 600].map(weight => `@fontsource/noto-sans-myanmar/files/noto-sans-myanmar-myanmar-${weight}-normal.woff2`)
const require = createRequire(import.meta.url)

export interface WebBuildResult {
  outdir: string
  /** Size of app.js (the entry, what the first page needs) in bytes. */
  rawBytes: number
  /** Size of app.js gzipped (level 9) in bytes. */
  gzipBytes: number
  /** All JavaScript, lazily loaded chunks included (the device page's charts), gzipped, in bytes. */
  totalGzipBytes: number
}

/** Served compressed: each of these gets a `.br` and a `.gz` beside it (the server picks by
 * Accept-Encoding, @fastify/static `preCompressed`). */
const compressible = /\.(js|css|html|svg)$/

/**
 * Bundles web/src/main.ts into `outdir`/app.js (ESM, minified, ES2022, with a
 * separate source map that app.js does not name and the server refuses to
 * serve: no public source map) and copies the static files beside it, each
 * text file also precompressed (brotli and gzip). Each file is written under
 * a temporary name and renamed, so a server reading `outdir` meanwhile never
 * sees half a file. Names are not content-hashed, so the server keeps its
 * default caching (revalidation by ETag / Last-Modified); lazily loaded
 * chunks (chunks/, e.g. the charts) are, so an old app.js never loads a new one.
 */
export async function buildWeb (options: { outdir?: string } = {}): Promise<WebBuildResult> {
  const outdir = resolve(options.outdir ?? join(webDir, 'dist'))
  const result = await build({
    entryPoints: { app: join(webDir, 'src/main.ts') },
    outdir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: 'external',
    legalComments: 'none',
    // a library's stylesheet imported by a component is its text, adopted into the shadow root
    loader: { '.css': 'text' },
    tsconfig: resolve(webDir, '..', 'tsconfig.json'),
    // Myanmar text as UTF-8 (3 bytes a letter) rather than \uXXXX escapes (6): app.js is a module
    // script, which the browser always decodes as UTF-8
    charset: 'utf8',
    plugins: [catalogueValues, minifyTemplates],
    write: false,
    logLevel: 'warning'
  })
  await mkdir(outdir, { recursive: true })
  // a page loaded before this build may still ask for the previous build's chunks: they are kept
  await mkdir(join(outdir, 'chunks'), { recursive: true })
  let rawBytes = 0
  let gzipBytes = 0
  let totalGzipBytes = 0
  for (const file of result.outputFiles) {
    await writeAtomically(file.path, file.contents)
    if (compressible.test(file.path)) await writeCompressed(file.path, file.contents)
    if (file.path.endsWith('.js')) {
      const gzipped = gzipSync(file.contents, { level: 9 }).byteLength
      totalGzipBytes += gzipped
      if (file.path === join(outdir, 'app.js')) {
        rawBytes = file.contents.byteLength
        gzipBytes = gzipped
      }
    }
  }
  await mkdir(join(outdir, 'fonts'), { recursive: true })
  for (const font of fontFiles) {
    // woff2 is compressed already: no .br/.gz beside it
    const temporary = join(outdir, 'fonts', `.${process.pid}.${++temporaryCount}.tmp`)
    await copyFile(require.resolve(font), temporary)
    await rename(temporary, join(outdir, 'fonts', basename(font)))
  }
  for (const name of staticFiles) {
    const temporary = join(outdir, `.${process.pid}.${++temporaryCount}.tmp`)
    await copyFile(join(webDir, name), temporary)
    await rename(temporary, join(outdir, name))
    if (compressible.test(name)) await writeCompressed(join(outdir, name), await readFile(join(outdir, name)))
  }
  return { outdir, rawBytes, gzipBytes, totalGzipBytes }
}

let temporaryCount = 0

/**
 * The indentation inside the components' `html` and `css` templates, which esbuild keeps (a template's
 * text is a value to it): each run of white space with a line break becomes one space, and in `css`
 * the spaces around `{`, `}`, `;`, `,` and `>`, after `:`, the zero before a decimal point and the
 * comments go. Only the literal parts of tagged templates change; expressions, and untagged templates in
 * them, are copied as they are. A run with a line break renders as one space in HTML (no `<pre>` or
 * `<textarea>` of the dashboard has literal text).
 */
const minifyTemplates: Plugin = {
  name: 'minify-templates',
  setup (pluginBuild) {
    pluginBuild.onLoad({ filter: /[\\/]web[\\/]src[\\/].*\.ts$/ }, async args => ({
      contents: minifyTaggedTemplates(await readFile(args.path, 'utf8')),
      loader: 'ts'
    }))
  }
}

export function minifyTaggedTemplates (source: string): string {
  let out = ''
  let i = 0
  // copies JavaScript from i up to the end of the source, or to the `}` closing an expression (depth 0)
  const code = (inExpression: boolean): void => {
    let depth = 0
    while (i < source.length) {
      const c = source[i]
      if (c === '`') {
        const tag = /(?:^|[^\w$.])(html|css)$/.exec(source.slice(Math.max(0, i - 6), i))?.[1]
        out += c
        i++
        template(tag as 'html' | 'css' | undefined)
        continue
      }
      if (c === '\'' || c === '"') {
        const end = stringEnd(i)
        out += source.slice(i, end)
        i = end
        continue
      }
      if (c === '/' && (source[i + 1] === '/' || source[i + 1] === '*')) {
        const end = source[i + 1] === '/' ? source.indexOf('\n', i) : source.indexOf('*/', i) + 2
        const stop = end <= i ? source.length : end
        out += source.slice(i, stop)
        i = stop
        continue
      }
      if (c === '{') depth++
      if (c === '}') {
        if (inExpression && depth === 0) return
        depth--
      }
      out += c
      i++
    }
  }
  const stringEnd = (start: number): number => {
    let j = start + 1
    while (j < source.length && source[j] !== source[start]) j += source[j] === '\\' ? 2 : 1
    return j + 1
  }
  // i is just past the opening backtick; copies the template through its closing backtick
  const template = (tag: 'html' | 'css' | undefined): void => {
    let text = ''
    const flush = (): void => {
      out += tag === undefined ? text : tag === 'css' ? minifyCss(text) : text.replace(/\s*\n\s*/g, ' ')
      text = ''
    }
    while (i < source.length) {
      const c = source[i]
      if (c === '\\') {
        text += source.slice(i, i + 2)
        i += 2
        continue
      }
      if (c === '`') {
        flush()
        out += c
        i++
        return
      }
      if (c === '$' && source[i + 1] === '{') {
        flush()
        out += '${'
        i += 2
        code(true)
        out += '}'
        i++
        continue
      }
      text += c
      i++
    }
    flush()
  }
  code(false)
  return out
}

/**
 * The Myanmar catalogue without its keys: my.ts has exactly en.ts's keys (its type and
 * test/web/i18n.test.ts say so), so it is bundled as its values in en.ts's key order and rebuilt from
 * en's keys when loaded; each key is then in the bundle once less (about 1 KB gzipped).
 */
const catalogueValues: Plugin = {
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

/** A catalogue module (with the parts it imports), evaluated from its source as it is now. */
async function evaluate (path: string): Promise<Record<string, Record<string, string>>> {
  const { outputFiles } = await build({ entryPoints: [path], bundle: true, write: false, format: 'esm', platform: 'neutral', logLevel: 'silent' })
  return await import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].contents).toString('base64')}`)
}

function minifyCss (text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ').replace(/ ?([{};,>]) ?/g, '$1').replace(/: /g, ':').replace(/([ :,(])0\.(\d)/g, '$1.$2')
}

async function writeAtomically (path: string, contents: Uint8Array): Promise<void> {
  const temporary = join(dirname(path), `.${process.pid}.${++temporaryCount}.tmp`)
  await writeFile(temporary, contents)
  await rename(temporary, path)
}

async function writeCompressed (path: string, contents: Uint8Array): Promise<void> {
  await writeAtomically(path + '.gz', gzipSync(contents, { level: 9 }))
  await writeAtomically(path + '.br', brotliCompressSync(contents, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: contents.byteLength } }))
}

function kilobytes (bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outdir, rawBytes, gzipBytes, totalGzipBytes } = await buildWeb()
  console.log(`web: ${outdir}/app.js ${kilobytes(rawBytes)} raw, ${kilobytes(gzipBytes)} gzipped; all JavaScript with lazy chunks ${kilobytes(totalGzipBytes)} gzipped`)
}
