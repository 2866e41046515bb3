// Styles every view shares: page frame, buttons, form controls, tables and cards, from the theme's
// custom properties (web/app.css), so both themes and every view look alike.
import { css } from 'lit'

export const viewStyles = css`
  :host {
    display: block;
    padding: 1rem;
    font-size: 0.9rem;
    box-sizing: border-box;
    max-width: 100%;
  }
  h2 { font-size: 1.15rem; margin: 0 0 0.75rem; }
  h3 { font-size: 1rem; margin: 0 0 0.5rem; }
  a { color: var(--hub-link); }
  a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, [tabindex]:focus-visible {
    outline: 2px solid var(--hub-accent);
    outline-offset: 1px;
  }
  button, .button {
    font: inherit;
    font-size: 0.875rem;
    line-height: 1.3;
    padding: 0.35rem 0.75rem;
    border: 1px solid var(--hub-border);
    border-radius: var(--hub-radius);
    background: var(--hub-surface);
    color: var(--hub-fg);
    cursor: pointer;
    text-decoration: none;
    display: inline-block;
  }
  button:hover, .button:hover { background: var(--hub-row-hover); }
  button.primary { background: var(--hub-accent); border-color: var(--hub-accent); color: var(--hub-accent-fg); }
  button.danger { color: var(--hub-danger); border-color: currentColor; }
  button[disabled] { opacity: 0.55; cursor: default; }
  input, select, textarea {
    font: inherit;
    font-size: 0.875rem;
    color: var(--hub-fg);
    background: var(--hub-surface);
    border: 1px solid var(--hub-border);
    border-radius: var(--hub-radius);
    padding: 0.35rem 0.5rem;
    min-width: 0;
    box-sizing: border-box;
  }
  label.field { display: grid; gap: 0.25rem; font-size: 0.8rem; color: var(--hub-muted); }
  form.inline, .toolbar { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; margin: 0.5rem 0 0.75rem; }
  .panel {
    background: var(--hub-surface);
    border: 1px solid var(--hub-border);
    border-radius: var(--hub-radius);
    padding: 0.75rem 1rem;
    margin-bottom: 1rem;
    min-width: 0;
  }
  .table-wrap { overflow-x: auto; max-width: 100%; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--hub-row-border); vertical-align: top; }
  th { font-size: 0.75rem; color: var(--hub-muted); text-transform: uppercase; letter-spacing: 0.03em; font-weight: 600; }
  :host(:lang(my)) th { text-transform: none; letter-spacing: 0; }
  fieldset { border: 1px solid var(--hub-border); border-radius: var(--hub-radius); margin: 0; padding: 0.3rem 0.6rem 0.45rem; display: flex; flex-wrap: wrap; gap: 0.25rem 0.75rem; }
  legend { padding: 0 0.25rem; }
  .wrap { overflow-wrap: anywhere; }
  .mono { font-family: var(--hub-mono); font-size: 0.8rem; }
  .muted { color: var(--hub-muted); }
  .error { color: var(--hub-danger); }
  .ok { color: var(--hub-online-text); }
  .secret { font-family: var(--hub-mono); user-select: all; word-break: break-all; background: var(--hub-tag-bg); padding: 0.1rem 0.3rem; border-radius: var(--hub-radius); }
  .badge { display: inline-block; padding: 0 0.45rem; border-radius: 0.6rem; background: var(--hub-tag-bg); font-size: 0.75rem; line-height: 1.3rem; white-space: nowrap; }
  .badge.good { background: var(--hub-online-halo); color: var(--hub-online-text); }
  .badge.bad { background: var(--hub-danger-bg); color: var(--hub-danger); }
  .badge.warn { background: var(--hub-warning-bg); color: var(--hub-warning-text); }
  .notice { padding: 0.5rem 0.75rem; border-radius: var(--hub-radius); background: var(--hub-warning-bg); color: var(--hub-warning-text); margin: 0.5rem 0; }
  .progress { height: 0.6rem; background: var(--hub-tag-bg); border-radius: 0.3rem; overflow: hidden; display: flex; min-width: 6rem; }
  .progress > span { display: block; height: 100%; }
  .progress .done { background: var(--hub-online); }
  .progress .failed { background: var(--hub-danger); }
  .progress .active { background: var(--hub-accent); }
  @media (max-width: 40rem) {
    :host { padding: 0.6rem; }
  }
`
