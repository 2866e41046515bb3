import { createError } from '@fastify/error'

// Every coded error the hub answers or exits with, in one place; each code is documented in docs/api.md
// "Error codes" (test/server/error-codes.test.ts fails on a code missing there, or documented and gone).
// Modules throw these directly; an error internal to a library below the hub (esim/'s DerDecodeError,
// with lowercase reasons) carries no public code and becomes one of these where the hub answers.

/** What the HTTP API answers with (`{"error": {"code", "message"}}`); the status is the answer's. */
export const errors = {
  Unauthorized: createError('HUB_ERR_UNAUTHORIZED', 'Authentication required', 401),
  InvalidCredentials: createError('HUB_ERR_INVALID_CREDENTIALS', 'Invalid email or password', 401),
  Forbidden: createError('HUB_ERR_FORBIDDEN', 'Not allowed', 403),
  /** An object of this tenant that does not exist, or a route that does not (`Route GET /x`). */
  NotFound: createError('HUB_ERR_NOT_FOUND', '%s not found', 404),
  Conflict: createError('HUB_ERR_CONFLICT', '%s', 409),
  BadRequest: createError('HUB_ERR_BAD_REQUEST', '%s', 400),
  /** A request part that fails its schema (docs/api.md "Validation"). */
  Validation: createError('HUB_ERR_VALIDATION', '%s', 400),
  /** A `cursor` that is not one this API returned (malformed, or of another list). */
  InvalidCursor: createError('HUB_ERR_INVALID_CURSOR', 'The cursor is not one this API returned', 400),
  InvalidTicket: createError('HUB_ERR_INVALID_TICKET', 'The event stream ticket is missing, expired or already used', 401),
  Unavailable: createError('HUB_ERR_UNAVAILABLE', 'Service temporarily unavailable', 503),
  TotpRequired: createError('HUB_ERR_TOTP_REQUIRED', 'A TOTP code is required for this account', 401),
  InvalidTotp: createError('HUB_ERR_INVALID_TOTP', 'Invalid or already used TOTP code', 401),
  TooManyAttempts: createError('HUB_ERR_TOO_MANY_ATTEMPTS', 'Too many attempts; try again later', 429),
  WeakPassword: createError('HUB_ERR_WEAK_PASSWORD', '%s', 400),
  CrossOrigin: createError('HUB_ERR_CROSS_ORIGIN', 'Cross-origin request refused', 403),
  InvalidRefreshToken: createError('HUB_ERR_INVALID_REFRESH_TOKEN', 'The session has ended; sign in again', 401),
  InvalidActivationCode: createError('HUB_ERR_INVALID_ACTIVATION_CODE', 'Invalid activation code: %s', 400),
  InvalidCommand: createError('HUB_ERR_INVALID_COMMAND', '%s', 400),
  CommandNotCancellable: createError('HUB_ERR_COMMAND_NOT_CANCELLABLE', '%s', 409),
  CampaignState: createError('HUB_ERR_CAMPAIGN_STATE', '%s', 409),
  /** An EID is unique hub-wide; the answer names neither the device nor the tenant that holds it. */
  EidTaken: createError('HUB_ERR_EID_TAKEN', 'This EID is registered to another device', 409),
  /** A certificate given with a device that the hub refuses (not PEM/DER, no EID, or its GSMA chain fails:
   * the message names the field and the verifier's reason). */
  InvalidEuiccCertificate: createError('HUB_ERR_INVALID_EUICC_CERTIFICATE', '%s', 400),
  PlatformTrustAnchor: createError('HUB_ERR_PLATFORM_TRUST_ANCHOR', 'A platform trust anchor can be added or removed by a platform admin only', 403),
  DirectoryTrustAnchor: createError('HUB_ERR_DIRECTORY_TRUST_ANCHOR', 'This trust anchor comes from HUB_EUICC_TRUST_DIR: remove its file and restart', 409),
  RateLimited: createError('HUB_ERR_RATE_LIMITED', 'Too many requests; retry in %s', 429),
  /** A device or gateway CSR that is not one PEM PKCS#10 request, or whose self-signature does not verify. */
  InvalidCsr: createError('HUB_ERR_INVALID_CSR', '%s', 400),
  /** A device or gateway key other than ECDSA P-256 or RSA-2048. */
  UnsupportedKeyType: createError('HUB_ERR_UNSUPPORTED_KEY_TYPE', '%s', 400),
  /** A webhook URL that is malformed, or resolves to a loopback, private or link-local address. */
  WebhookUrl: createError('HUB_ERR_WEBHOOK_URL', 'Webhook URL refused: %s', 400),
  /** An alert that cannot be acknowledged (already acknowledged, or resolved). */
  AlertState: createError('HUB_ERR_ALERT_STATE', '%s', 409),
  /** A 4xx raised without a code (by a plugin); the status is the error's own. */
  Request: createError('HUB_ERR_REQUEST', '%s', 400),
  /** Every 5xx but `Unavailable`: the body is generic, the detail goes to the log. */
  Internal: createError('HUB_ERR_INTERNAL', 'Internal error', 500)
}

// --- Why the hub exits at start (never an HTTP answer): server/main.ts writes the message and exits
// with a non-zero status (2 for the configuration, 1 otherwise). The code is a static too, so that the
// documentation test can list them without building one.

/** One or more bad environment values; `problems` names each. */
export class ConfigError extends Error {
  static readonly code = 'HUB_ERR_CONFIG'
  readonly code = ConfigError.code
  constructor (readonly problems: string[]) {
    super('Invalid configuration:\n' + problems.map((p) => '  - ' + p).join('\n'))
  }
}

/** A committed migration that does not apply: the hub does not start on a schema it cannot trust. */
export class MigrationError extends Error {
  static readonly code = 'HUB_ERR_MIGRATION'
  readonly code = MigrationError.code
  constructor (cause: unknown) {
    super('Database migration failed: ' + (cause instanceof Error ? cause.message : String(cause)), { cause })
  }
}

/** A listener's port is taken (`what`: HTTP, HTTPS, MQTT, MQTT/TLS); `variable` is the setting to change. */
export class PortInUseError extends Error {
  static readonly code = 'HUB_ERR_PORT_IN_USE'
  readonly code = PortInUseError.code
  constructor (what: string, host: string, port: number | string, variable: string, options?: ErrorOptions) {
    super(`${what} port ${String(port)} on ${host} is already in use (set ${variable} to a free port, or 0 to pick one)`, options)
  }

  /** For a listen's `.catch`: EADDRINUSE becomes this error, anything else passes unchanged. */
  static of (what: string, host: string, port: number | string, variable: string): (err: NodeJS.ErrnoException) => never {
    return (err) => { throw err.code === 'EADDRINUSE' ? new PortInUseError(what, host, port, variable, { cause: err }) : err }
  }
}

export const startupErrors = { ConfigError, MigrationError, PortInUseError }
