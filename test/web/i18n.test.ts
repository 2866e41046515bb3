// Every visible string of the dashboard is in both catalogues: same keys, same placeholders, and the
// Myanmar one in Myanmar script (Unicode Burmese) except for the technical names kept in Latin.
import t from 'tap'
import { en } from '../../web/src/i18n/en.ts'
import { my } from '../../web/src/i18n/my.ts'

const LATIN_ON_PURPOSE = new Set(['col.id', 'col.rsrp', 'col.rsrq', 'col.sinr', 'col.rat', 'admin.users.totp'])
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map(m => m[1]).sort()

t.same(Object.keys(my).sort(), Object.keys(en).sort(), 'my.ts has exactly the keys of en.ts')
for (const [key, text] of Object.entries(en)) {
  const translated = (my as Record<string, string>)[key]
  if (translated === undefined) continue
  t.same(placeholders(translated), placeholders(text), `${key}: the same placeholders`)
  if (!LATIN_ON_PURPOSE.has(key)) t.match(translated, /[\u1000-\u109f]/, `${key}: in Myanmar script`)
  // Zawgyi-only code points and orderings are not Unicode Burmese; a medial ra written before its
  // consonant (U+103C first in a word) is a common Zawgyi tell
  t.notMatch(translated, /(^|\s)\u103c/, `${key}: Unicode, not Zawgyi ordering`)
}
