// The device page's lists: the eUICC's profiles (with their operations for admins and operators), the
// device's commands with their progress, and its eSIM notifications with the hub's verdict.
import { css, html } from 'lit'
import type { Command, CommandOp, DeviceNotification, Profile } from '../data/console-types.ts'
import { t } from '../i18n/index.ts'
import { formatDateTime, formatRelative } from './format.ts'

/** A command's final statuses. */
export const finished = new Set(['succeeded', 'failed', 'expired', 'cancelled'])
const steps = ['queued', 'sent', 'done'] as const

/** What the profile rows' buttons do (null: no buttons). */
export interface ProfileActions {
  run: (op: CommandOp, iccid: string) => void
  delete: (profile: Profile) => void
}

export const deviceListStyles = css`
  .steps { display: inline-flex; gap: 2px; vertical-align: middle; margin-right: 0.4rem; }
  .steps span { width: 1.1rem; height: 0.35rem; background: var(--hub-tag-bg); border-radius: 2px; }
  .steps span.on { background: var(--hub-accent); }
  .steps.failed span.on { background: var(--hub-danger); }
  .steps.succeeded span.on { background: var(--hub-online); }
  td.actions { white-space: nowrap; }
  td.actions button { padding: 0.15rem 0.5rem; font-size: 0.8rem; }
  .state-enabled { color: var(--hub-online-text); font-weight: 600; }
  .reason { color: var(--hub-danger); }
`

export function renderProfiles (profiles: Profile[], actions: ProfileActions | null) {
  const operator = actions !== null
  return html`
    <section class="panel">
      <h3>${t('profiles.title')}</h3>
      ${profiles.length === 0
        ? html`<p class="muted">${t('profiles.none')}</p>`
        : html`<div class="table-wrap"><table>
          <thead><tr><th>ICCID</th><th>${t('profiles.state')}</th><th>${t('fleet.operator')}</th><th>${t('profiles.name')}</th><th>${t('profiles.changed')}</th><th>${t('profiles.cause')}</th>${operator ? html`<th></th>` : null}</tr></thead>
          <tbody>${profiles.map(p => html`<tr data-profile=${p.iccid}>
            <td class="mono">${p.iccid}</td>
            <td class="state-${p.state}">${t(`profileState.${p.state as 'enabled'}`)}${p.conflict ? html` <span class="badge warn" title=${p.conflict}>${t('profiles.conflict')}</span>` : null}</td>
            <td>${p.operator?.name ?? '—'}</td>
            <td>${p.name ?? p.spn ?? '—'}</td>
            <td title=${formatDateTime(p.changedAt)}>${formatRelative(p.changedAt)}</td>
            <td>${p.cause}${p.seqNumber === null ? '' : ` #${p.seqNumber}`}</td>
            ${operator
              ? html`<td class="actions">
                ${p.state === 'enabled'
                  ? html`<button type="button" data-op="disable" @click=${() => actions?.run('disable', p.iccid)}>${t('ops.disable')}</button>`
                  : html`<button type="button" data-op="enable" @click=${() => actions?.run('enable', p.iccid)}>${t('ops.enable')}</button>`}
                <button type="button" class="danger" data-op="delete" @click=${() => actions?.delete(p)}>${t('ops.delete')}</button></td>`
              : null}
          </tr>`)}</tbody></table></div>`}
    </section>`
}

export function renderCommands (commands: Command[]) {
  return html`
    <section class="panel">
      <h3>${t('commands.title')}</h3>
      ${commands.length === 0
        ? html`<p class="muted">${t('commands.none')}</p>`
        : html`<div class="table-wrap"><table>
          <thead><tr><th>${t('commands.op')}</th><th>ICCID</th><th>${t('commands.state')}</th><th>${t('commands.created')}</th><th>${t('commands.finished')}</th><th>${t('commands.error')}</th></tr></thead>
          <tbody>${commands.map(c => html`<tr data-command-id=${c.id} data-command-status=${c.status}>
            <td>${t(`op.${c.op as CommandOp}`)}</td>
            <td class="mono">${c.iccid ?? '—'}</td>
            <td>${progressSteps(c)}${t(`commandStatus.${c.status}`)}</td>
            <td title=${formatDateTime(c.createdAt)}>${formatRelative(c.createdAt)}</td>
            <td>${c.finishedAt ? formatDateTime(c.finishedAt) : '—'}</td>
            <td>${c.error ? html`<span class="reason">${c.error.code}</span>: ${c.error.message}` : '—'}</td>
          </tr>`)}</tbody></table></div>`}
    </section>`
}

export function renderNotifications (notifications: DeviceNotification[]) {
  return html`
    <section class="panel">
      <h3>${t('notifications.title')}</h3>
      ${notifications.length === 0
        ? html`<p class="muted">${t('notifications.none')}</p>`
        : html`<div class="table-wrap"><table>
          <thead><tr><th>${t('notifications.received')}</th><th>#</th><th>${t('commands.op')}</th><th>ICCID</th><th>${t('notifications.verdict')}</th><th>${t('notifications.reason')}</th><th>${t('notifications.source')}</th></tr></thead>
          <tbody>${notifications.map(n => html`<tr data-notification=${n.id}>
            <td title=${formatDateTime(n.receivedAt)}>${formatDateTime(n.receivedAt)}</td>
            <td>${n.seqNumber ?? '—'}</td>
            <td>${n.operation ?? n.kind ?? '—'}</td>
            <td class="mono">${n.iccid ?? '—'}</td>
            <td><span class="badge ${n.status === 'accepted' ? 'good' : n.status === 'rejected' ? 'bad' : ''}">${t(`verdict.${n.status as 'accepted'}`)}</span></td>
            <td>${n.reason ? html`<span class="reason">${n.reason}</span>${n.detail ? html`<div class="muted">${n.detail}</div>` : null}` : '—'}</td>
            <td>${n.source}</td>
          </tr>`)}</tbody></table></div>`}
    </section>`
}

/** Newest first, one entry per command, the later state winning. */
export function mergeCommands (incoming: Command[], current: Command[]): Command[] {
  const byId = new Map(current.map(c => [c.id, c]))
  for (const command of incoming) byId.set(command.id, { ...byId.get(command.id), ...command })
  return [...byId.values()].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt)).slice(0, 50)
}

function progressSteps (command: Command) {
  const reached = command.status === 'queued' ? 1 : command.status === 'sent' ? 2 : 3
  const kind = command.status === 'succeeded' ? 'succeeded' : finished.has(command.status) ? 'failed' : ''
  return html`<span class="steps ${kind}" aria-hidden="true">${steps.map((_, i) => html`<span class=${i < reached ? 'on' : ''}></span>`)}</span>`
}
