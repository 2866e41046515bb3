import { css } from 'lit'

/** The fleet table's styles: rows on a desktop, cards on a phone (web/src/components/fleet-table.ts). */
export const fleetTableStyles = css`
    :host {
      display: flex;
      flex-direction: column;
      flex: 1;
      min-height: 0;
      font-size: 0.875rem;
    }
    .toolbar {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.5rem 0.6rem;
      padding: 0.6rem 1rem;
    }
    input, select, button, summary {
      font: inherit;
      font-size: 0.85rem;
      color: var(--hub-fg);
      background: var(--hub-surface);
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
      padding: 0.3rem 0.5rem;
      min-width: 0;
      box-sizing: border-box;
    }
    button, summary { cursor: pointer; }
    input[type=search] { width: min(21rem, 100%); }
    a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, .row:focus-visible {
      outline: 2px solid var(--hub-accent);
      outline-offset: -2px;
    }
    details { position: relative; }
    details[open] > summary { background: var(--hub-row-hover); }
    .chooser {
      position: absolute;
      z-index: 3;
      top: calc(100% + 0.25rem);
      left: 0;
      background: var(--hub-surface);
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
      box-shadow: 0 4px 14px rgb(0 0 0 / 0.18);
      padding: 0.5rem 0.75rem;
      display: grid;
      gap: 0.25rem;
      min-width: 11rem;
    }
    .chooser label { display: flex; gap: 0.4rem; align-items: center; white-space: nowrap; }
    .count {
      margin-left: auto;
      color: var(--hub-muted);
      font-size: 0.85rem;
    }
    .scroll {
      flex: 1;
      min-height: 0;
      overflow: auto;
      margin: 0 1rem 1rem;
      background: var(--hub-surface);
      border: 1px solid var(--hub-border);
      border-radius: var(--hub-radius);
    }
    .header, .row {
      display: grid;
      grid-template-columns: var(--columns);
      align-items: center;
      column-gap: 0.75rem;
      padding: 0 0.75rem;
      min-width: var(--table-min-width);
      box-sizing: border-box;
    }
    .header {
      position: sticky;
      top: 0;
      z-index: 1;
      height: 2.25rem;
      background: var(--hub-header-bg);
      border-bottom: 1px solid var(--hub-border);
    }
    .header button {
      all: unset;
      cursor: pointer;
      font-size: 0.75rem;
      font-weight: 600;
      color: var(--hub-muted);
      text-transform: uppercase;
      letter-spacing: 0.03em;
      white-space: nowrap;
      overflow: hidden;
      text-overflow: ellipsis;
    }
    :host(:lang(my)) .header button { text-transform: none; letter-spacing: 0; font-size: 0.8rem; }
    .header button:focus-visible { outline: 2px solid var(--hub-accent); }
    .header [aria-sort=ascending] button::after { content: ' ▲'; }
    .header [aria-sort=descending] button::after { content: ' ▼'; }
    .rows { min-width: var(--table-min-width); }
    .row {
      width: 100%;
      min-height: 2.5rem;
      border-bottom: 1px solid var(--hub-row-border);
      cursor: pointer;
    }
    .row:hover { background: var(--hub-row-hover); }
    .cell {
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .cell a { color: inherit; font-weight: 500; text-decoration: none; }
    .cell a:hover { text-decoration: underline; }
    .num { text-align: right; font-variant-numeric: tabular-nums; }
    .header .num { text-align: right; }
    .mono { font-family: var(--hub-mono); font-size: 0.8rem; color: var(--hub-muted); }
    .status { display: flex; align-items: center; gap: 0.4rem; }
    .dot {
      flex: none;
      width: 0.6rem;
      height: 0.6rem;
      border-radius: 50%;
      background: var(--hub-offline);
    }
    .online .dot { background: var(--hub-online); box-shadow: 0 0 0 3px var(--hub-online-halo); }
    .offline .status { color: var(--hub-muted); }
    .stale .dot { background: transparent; border: 2px dashed var(--hub-warning); width: 0.45rem; height: 0.45rem; }
    .stale .status { color: var(--hub-warning-text); }
    .tag {
      display: inline-block;
      margin-right: 0.3rem;
      padding: 0 0.4rem;
      border-radius: 0.6rem;
      background: var(--hub-tag-bg);
      font-size: 0.75rem;
      line-height: 1.2rem;
    }
    .count-accepted, .count-rejected { font-variant-numeric: tabular-nums; }
    .count-rejected, .last-rejected { color: var(--hub-danger); font-weight: 600; }
    .empty { padding: 2rem; text-align: center; color: var(--hub-muted); }

    /* a phone: one card per device, the figures that matter with their labels */
    @media (max-width: 48rem) {
      .toolbar { padding: 0.5rem 0.6rem; }
      input[type=search] { width: 100%; }
      .toolbar select { flex: 1 1 7rem; }
      .count { margin-left: 0; width: 100%; }
      .scroll { margin: 0 0.6rem 0.6rem; }
      .header { display: none; }
      .rows, .row { min-width: 0; }
      .row {
        grid-template-columns: repeat(2, minmax(0, 1fr));
        grid-template-areas: "name status";
        gap: 0.2rem 0.75rem;
        padding: 0.55rem 0.75rem;
      }
      .cell { display: none; }
      .cell[data-col=name] { display: block; grid-area: name; font-size: 0.95rem; }
      .cell[data-col=status] { display: flex; grid-area: status; justify-content: end; }
      .cell[data-col=lastSeen], .cell[data-col=rsrp], .cell[data-col=sinr], .cell[data-col=battery], .cell[data-col=rat], .cell[data-col=site] {
        display: block;
        text-align: left;
        font-size: 0.8rem;
      }
      .cell[data-col=tags] { display: block; grid-column: 1 / -1; }
      .cell[data-col=tags]:empty { display: none; }
      .cell[data-col=lastSeen]::before, .cell[data-col=rsrp]::before, .cell[data-col=sinr]::before,
      .cell[data-col=battery]::before, .cell[data-col=rat]::before, .cell[data-col=site]::before {
        content: attr(data-label) " ";
        color: var(--hub-muted);
      }
    }
`
