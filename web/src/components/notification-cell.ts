// The fleet table's notifications cell: accepted and rejected counts and the newest notification.
import { html } from 'lit'
import type { Device } from '../data/types.ts'
import { t } from '../i18n/index.ts'
import { formatCount, formatDateTime } from './format.ts'

/** Accepted count, rejected count when there are any, and the newest notification: `✓ 3 ✗ 1 enable #12`. */
export function notificationCell (device: Device) {
  const last = device.lastNotification
  const counts = device.notificationCounts ?? { accepted: 0, rejected: 0 }
  if (!last && counts.accepted === 0 && counts.rejected === 0) return '—'
  const rejected = counts.rejected > 0 ? html` <span class="count-rejected" data-count="rejected">✗ ${formatCount(counts.rejected)}</span>` : null
  const newest = last ? html` <span class="last-${last.status}" data-last=${last.status}>${describeNotification(last)}</span>` : null
  return html`<span class="count-accepted" data-count="accepted">✓ ${formatCount(counts.accepted)}</span>${rejected}${newest}`
}

function describeNotification (last: NonNullable<Device['lastNotification']>): string {
  if (last.status === 'rejected') return t('notification.rejectedReason', { reason: last.reason ?? t('notification.unknown') })
  const operation = last.operation ?? t('notification.generic')
  return last.seqNumber === null ? operation : `${operation} #${last.seqNumber}`
}

export function notificationTitle (device: Device): string {
  const counts = device.notificationCounts ?? { accepted: 0, rejected: 0 }
  const last = device.lastNotification
  const summary = t('notification.summary', { accepted: counts.accepted, rejected: counts.rejected })
  return last ? t('notification.summaryLast', { summary, last: describeNotification(last), at: formatDateTime(last.receivedAt) }) : summary
}
