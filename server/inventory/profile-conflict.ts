import { sql, type SQL } from 'drizzle-orm'

/** The causes a profile's state is written with. The conflict rule below reads them back: a state whose
 * cause starts with `command:` or `inventory` may be replaced by the device's report, one set by a
 * verified notification (`notification:`, `implicit:`) may not. */
export const cause = {
  notification: (operation: string, seqNumber: number) => `notification: ${operation} (seq ${seqNumber})`,
  /** The profile enabled before, disabled because a notification enabled another (one per eUICC). */
  implicit: (enabledIccid: string, seqNumber: number) => `implicit: ${enabledIccid} enabled (seq ${seqNumber})`,
  command: (op: string, commandId: string) => `command: ${op} ${commandId}`,
  /** The profile enabled before, disabled because a command enabled another. */
  commandImplicit: (commandCause: string) => `${commandCause} (implicit)`,
  inventory: 'inventory'
} as const

/** One rule, in SQL, for `profiles.conflict`: null when a profile's state agrees with what its device
 * reported in its last `inventory` (enabled ↔ enabled, disabled ↔ disabled, deleted ↔ absent),
 * else the disagreement in words (`<says> <state>, the device reports <reported>`). */
export function reportedConflict (state: SQL, reported: SQL, says: string): SQL {
  return sql`case when ${reported} is null then null
    when ${reported} = (case ${state} when 'enabled' then 'enabled' when 'deleted' then 'absent' else 'disabled' end) then null
    else ${says + ' '} || ${state} || ', the device reports ' || ${reported} end`
}

/** The conflict of a row whose state a notification sets to `state`: a state a command set (cause
 * `command:…`) and the notification contradicts, else the reported-state rule. Reads the row's current
 * `cause`, `state` and `reported_state`. */
export function notificationConflict (state: SQL): SQL {
  return sql`case when profiles.cause like 'command:%' and profiles.state <> ${state}
      then 'the ' || profiles.cause || ' said ' || profiles.state || ', notifications say ' || ${state}
    else ${reportedConflict(state, sql`profiles.reported_state`, 'notifications say')} end`
}

/** Whether a device's `inventory` report replaces a row's state: yes when a command or an earlier report
 * set it (the device is the truth about what it holds now), no when a verified notification did (cause
 * `notification:` or `implicit:`; a later notification with a higher seqNumber changes it instead). Reads
 * the row's current `cause`. */
export function reportWins (): SQL {
  return sql`(profiles.cause like 'command:%' or profiles.cause like 'inventory%')`
}
