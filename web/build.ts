// Builds the dashboard into web/dist: `npm run build:web`, or buildWeb() from a test.
import { build, type Plugin } from 'esbuild'
import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { catalogueValues, shortKeys } from './build-catalogues.ts'
import { assetsFolder, hashedName, pruneAssets, writeServed } from './build-output.ts'

const webDir = dirname(fileURLToPath(import.meta.url))
/** The Myanmar web font (@fontsource/noto-sans-myanmar, Myanmar subset, regular and semibold), served
 * by the hub itself (app.css names them in @font-face as /fonts/<file>, which the build points at their
 * hashed copies): nothing from a CDN. */
const fontFiles = [400, 600].map(weight => `@fontsource/noto-sans-myanmar/files/noto-sans-myanmar-myanmar-${weight}-normal.woff2`)
const require = createRequire(import.meta.url)

export interface WebBuildResult {
  outdir: string
  /** The entry script's URL path, as index.html names it (/assets/app-<hash>.js). */
  entry: string
  /** Size of the entry script (what the first page needs) in bytes. */
  rawBytes: number
  /** Size of the entry script gzipped (level 9) in bytes. */
  gzipBytes: number
  /** All JavaScript, lazily loaded chunks included (the device page's charts), gzipped, in bytes. */
  totalGzipBytes: number
}

/**
 * Bundles web/src/main.ts into `outdir`/assets (ESM, minified, ES2022) and writes every asset under a
 * content-hashed name there: the entry script and its lazily loaded chunks (esbuild's [hash]), app.css
 * and the fonts it names (a hash of their bytes); index.html and favicon.svg keep their names and
 * index.html names the hashed files. Each text file is also precompressed (brotli and gzip). Hashed
 * names let the server cache assets for a year (immutable) while index.html is revalidated on every
 * load. The source maps are separate files that no script names and the server refuses to serve (no
 * public source map). The assets of the previous build are kept (a page loaded before this build may
 * still ask for its chunks), older ones removed.
 */
export async function buildWeb (options: { outdir?: string } = {}): Promise<WebBuildResult> {
  const outdir = resolve(options.outdir ?? join(webDir, 'dist'))
  const assets = join(outdir, assetsFolder)
  const result = await build({
    entryPoints: { app: join(webDir, 'src/main.ts') },
    outdir: assets,
    bundle: true,
    splitting: true,
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
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
    metafile: true,
    plugins: [catalogueValues, minifyTemplates],
    write: false,
    logLevel: 'warning'
  })
  await mkdir(assets, { recursive: true })
  const written: string[] = []
  let entry = ''
  let rawBytes = 0
  let gzipBytes = 0
  let totalGzipBytes = 0
  for (const file of result.outputFiles) {
    written.push(...await writeServed(file.path, file.contents))
    if (!file.path.endsWith('.js')) continue
    const gzipped = gzipSync(file.contents, { level: 9 }).byteLength
    totalGzipBytes += gzipped
    const output = result.metafile.outputs[relative(process.cwd(), file.path).split(sep).join('/')]
    if (output?.entryPoint?.endsWith('src/main.ts') === true) {
      entry = `/${assetsFolder}/${basename(file.path)}`
      rawBytes = file.contents.byteLength
      gzipBytes = gzipped
    }
  }
  let css = await readFile(join(webDir, 'app.css'), 'utf8')
  for (const font of fontFiles) {
    const contents = await readFile(require.resolve(font))
    const name = hashedName(basename(font), contents)
    written.push(...await writeServed(join(assets, name), contents))
    css = css.replaceAll(`/fonts/${basename(font)}`, `/${assetsFolder}/${name}`)
  }
  const cssName = hashedName('app.css', Buffer.from(css))
  written.push(...await writeServed(join(assets, cssName), Buffer.from(css)))
  const index = (await readFile(join(webDir, 'index.html'), 'utf8'))
    .replace('href="/app.css"', `href="/${assetsFolder}/${cssName}"`)
    .replace('src="/app.js"', `src="${entry}"`)
  await writeServed(join(outdir, 'favicon.svg'), await readFile(join(webDir, 'favicon.svg')))
  await writeServed(join(outdir, 'index.html'), Buffer.from(index))
  await pruneAssets(outdir, written)
  return { outdir, entry, rawBytes, gzipBytes, totalGzipBytes }
}

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
    const keys = shortKeys(join(webDir, 'src'))
    pluginBuild.onLoad({ filter: /[\\/]web[\\/]src[\\/].*\.ts$/ }, async args => ({
      contents: (await keys)(minifyTaggedTemplates(await readFile(args.path, 'utf8'))),
      loader: 'ts'
    }))
    // a library's stylesheet (uPlot's), adopted as text: minified as the templates' css
    pluginBuild.onLoad({ filter: /\.css$/ }, async args => ({ contents: minifyCss(await readFile(args.path, 'utf8')), loader: 'text' }))
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

function minifyCss (text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ').replace(/ ?([{};,>]) ?/g, '$1').replace(/: /g, ':').replace(/([ :,(])0\.(\d)/g, '$1.$2')
}

function kilobytes (bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { outdir, entry, rawBytes, gzipBytes, totalGzipBytes } = await buildWeb()
  console.log(`web: ${outdir}${entry} ${kilobytes(rawBytes)} raw, ${kilobytes(gzipBytes)} gzipped; all JavaScript with lazy chunks ${kilobytes(totalGzipBytes)} gzipped`)
}
