import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.ts'

/** Passwords that meet the length rule but are among the most common choices (and their obvious
 * variations, checked after folding case and stripping digits and symbols at the ends). */
const COMMON = new Set([
  'password', 'passwort', 'motdepasse', 'qwerty', 'qwertyuiop', 'asdfghjkl', 'zxcvbnm', 'letmein', 'welcome',
  'admin', 'administrator', 'iloveyou', 'monkey', 'dragon', 'football', 'baseball', 'sunshine', 'princess',
  'trustno', 'changeme', 'default', 'secret', 'master', 'superman', 'batman', 'starwars', 'whatever',
  'shadow', 'michael', 'jennifer', 'computer', 'internet', 'abcdef', 'abcdefgh', 'abcdefghijkl', 'qazwsx',
  'passw0rd', 'p@ssw0rd', 'p@ssword', 'pa55word', 'mypassword', 'adminadmin', 'rootroot', 'root', 'toor',
  'test', 'testtest', 'guest', 'login', 'euicchub', 'euicc', 'esim', 'hub', 'correcthorsebatterystaple',
  'qwertyqwerty', 'passwordpassword', 'welcomewelcome', 'iloveyouiloveyou', 'football123', 'letmeinletmein'
])
const SEQUENCES = ['0123456789', 'abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjklzxcvbnm']

/** Returns why a new password is refused, or null when acceptable. */
export function passwordProblem (password: string, email?: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `Password must be at least ${MIN_PASSWORD_LENGTH} characters`
  if (password.length > MAX_PASSWORD_LENGTH) return `Password must be at most ${MAX_PASSWORD_LENGTH} characters`
  const folded = password.toLowerCase()
  const core = folded.replace(/^[^a-z]+|[^a-z]+$/g, '').replace(/\s+/g, '')
  if (COMMON.has(folded) || COMMON.has(core) || COMMON.has(folded.replace(/\s+/g, ''))) return 'Password is too common'
  if (new Set(folded).size <= 3) return 'Password is too repetitive'
  if (SEQUENCES.some((s) => s.includes(folded) || (s + s).includes(folded))) return 'Password is a keyboard or alphabet sequence'
  const local = email?.split('@')[0]?.toLowerCase()
  if (local !== undefined && local.length >= 4 && folded.includes(local)) return 'Password must not contain the account name'
  return null
}
