// The dashboard's languages: English and Myanmar (Unicode Burmese). Every visible string comes from a
// catalogue (en.ts is the reference; my.ts must have the same keys, which the type and a test check).
// The choice is remembered in localStorage and `<html lang>` follows it.
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { en, type MessageKey } from './en.ts'
import { my } from './my.ts'

export type { MessageKey }
export const locales = ['en', 'my'] as const
export type Locale = typeof locales[number]

/** Each language's name in its own script, for the picker. */
export const localeNames: Record<Locale, string> = { en: 'English', my: 'မြန်မာ' }

const catalogues: Record<Locale, Record<MessageKey, string>> = { en, my }
const storageKey = 'euicc-hub.locale'
const listeners = new Set<(locale: Locale) => void>()

let current: Locale = readStored()
applyToDocument(current)

export function locale (): Locale {
  return current
}

export function setLocale (next: Locale): void {
  if (next === current || !locales.includes(next)) return
  current = next
  try {
    localStorage.setItem(storageKey, next)
  } catch {}
  applyToDocument(next)
  for (const listener of listeners) listener(next)
}

export function onLocale (listener: (locale: Locale) => void): () => void {
  listeners.add(listener)
  return () => { listeners.delete(listener) }
}

/** The message for `key` in the current language; `{name}` placeholders take `params` (numbers through
 * Intl.NumberFormat of the language). */
export function t (key: MessageKey, params?: Record<string, string | number>): string {
  const text = catalogues[current][key] ?? en[key]
  if (!params) return text
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name]
    if (value === undefined) return whole
    return typeof value === 'number' ? numberFormat().format(value) : value
  })
}

let numberFormatFor: { locale: Locale, format: Intl.NumberFormat } | null = null
export function numberFormat (): Intl.NumberFormat {
  if (numberFormatFor?.locale !== current) numberFormatFor = { locale: current, format: new Intl.NumberFormat(current) }
  return numberFormatFor.format
}

/** Re-renders its host when the language changes. */
export class LocaleController implements ReactiveController {
  readonly #host: ReactiveControllerHost
  #release: (() => void) | null = null

  constructor (host: ReactiveControllerHost) {
    this.#host = host
    host.addController(this)
  }

  hostConnected (): void {
    this.#release = onLocale(() => this.#host.requestUpdate())
  }

  hostDisconnected (): void {
    this.#release?.()
    this.#release = null
  }
}

function readStored (): Locale {
  try {
    const stored = localStorage.getItem(storageKey)
    if (stored && (locales as readonly string[]).includes(stored)) return stored as Locale
  } catch {}
  return 'en'
}

function applyToDocument (next: Locale): void {
  if (typeof document !== 'undefined') document.documentElement.lang = next
}
