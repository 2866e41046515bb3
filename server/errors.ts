import { createError } from '@fastify/error'

/** Every coded error the HTTP API answers with, in one place (`{"error": {"code", "message"}}`). */
export const errors = {
  Unauthorized: createError('HUB_ERR_UNAUTHORIZED', 'Authentication required', 401),
  InvalidCredentials: createError('HUB_ERR_INVALID_CREDENTIALS', 'Invalid email or password', 401),
  Forbidden: createError('HUB_ERR_FORBIDDEN', 'Not allowed', 403),
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
  InvalidEuiccCertificate: createError('HUB_ERR_INVALID_EUICC_CERTIFICATE', '%s', 400),
  PlatformTrustAnchor: createError('HUB_ERR_PLATFORM_TRUST_ANCHOR', 'A platform trust anchor can be added or removed by a platform admin only', 403),
  DirectoryTrustAnchor: createError('HUB_ERR_DIRECTORY_TRUST_ANCHOR', 'This trust anchor comes from HUB_EUICC_TRUST_DIR: remove its file and restart', 409),
  RateLimited: createError('HUB_ERR_RATE_LIMITED', 'Too many requests; retry in %s', 429),
  /** A device CSR that is not one PEM PKCS#10 request, or whose self-signature does not verify. */
  InvalidCsr: createError('HUB_ERR_INVALID_CSR', '%s', 400),
  /** A device key other than ECDSA P-256 or RSA-2048. */
  UnsupportedKeyType: createError('HUB_ERR_UNSUPPORTED_KEY_TYPE', '%s', 400)
}
