import { css } from 'lit'

/** A severity's badge class. */
export const severityClass: Record<string, string> = { critical: 'bad', warning: 'warn', info: '' }

/** Tables with action buttons that become a card per row on a phone (class `cards`, each cell's
 * `data-label` its column's name): alerts, rules, webhooks. */
export const cardTableStyles = css`
  td.actions { white-space: nowrap; text-align: right; }
  td.actions button { padding: 0.15rem 0.5rem; font-size: 0.8rem; }
  @media (max-width: 40rem) {
    /* a card per row: each cell on a line of its own, after its column's name */
    .cards thead { display: none; }
    .cards tr { display: block; padding: 0.4rem 0; border-bottom: 1px solid var(--hub-row-border); }
    .cards td { display: block; position: relative; padding: 0.15rem 0 0.15rem 8.5rem; border: 0; min-height: 1.3rem; }
    .cards td::before { content: attr(data-label); position: absolute; left: 0; width: 8rem; color: var(--hub-muted); font-size: 0.8rem; overflow-wrap: anywhere; }
    .cards td.actions { text-align: left; }
  }
`
