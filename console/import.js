import { uploadCsv } from './api.js';
import { confirmAction, field, h, report, table } from './dom.js';

const OUTCOME_WORDS = {
  preview: { created: 'would create', updated: 'would update', unchanged: 'unchanged', failed: 'failed' },
  run: { created: 'created', updated: 'updated', unchanged: 'unchanged', failed: 'failed' },
};

/** A CSV cell a spreadsheet will not run as a formula. */
function cell(value) {
  let text = String(value ?? '');
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function reportCsv(result) {
  const rows = [['line', 'username', 'outcome', 'reason']];
  const lines = result.lines ?? result.errors.map((e) => ({ ...e, outcome: 'failed' }));
  for (const line of lines) rows.push([line.line, line.userName ?? '', line.outcome, line.reason ?? '']);
  rows.push([]);
  for (const key of ['total', 'created', 'updated', 'unchanged', 'failed']) rows.push([key, result[key]]);
  if (result.aborted) rows.push(['aborted', result.aborted]);
  return rows.map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}

function summary(result, words) {
  const parts = [`${result.total} lines`, `${result.created} ${words.created}`, `${result.updated} ${words.updated}`];
  parts.push(`${result.unchanged} unchanged`, `${result.failed} failed`);
  return parts.join(', ') + (result.aborted ? `. Stopped: ${result.aborted}` : '.');
}

function linesTable(result, words, caption) {
  const lines = result.lines ?? [];
  const more = result.total > lines.length ? h('p', {}, `The first ${lines.length} lines are shown.`) : null;
  return h(
    'div',
    {},
    table(
      caption,
      ['Line', 'Username', 'Outcome', 'Reason'],
      lines.map((line) =>
        h(
          'tr',
          { class: `outcome-${line.outcome}` },
          h('td', {}, String(line.line)),
          h('td', {}, line.userName ?? ''),
          h('td', {}, words[line.outcome] ?? line.outcome),
          h('td', {}, line.reason ?? ''),
        ),
      ),
    ),
    more,
  );
}

/** CSV import: a dry-run preview of every line, then the import with its progress and report. */
export async function importPage() {
  const file = h('input', { type: 'file', accept: '.csv,text/csv', required: true });
  const previewButton = h('button', { type: 'button' }, 'Preview (dry run)');
  const runButton = h('button', { type: 'button', disabled: true }, 'Import');
  const progress = h('progress', { max: '1', value: '0', 'aria-labelledby': 'progress-label' });
  const progressLabel = h('span', { id: 'progress-label' }, 'Not started');
  const status = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const output = h('div', {});
  let previewed = null;

  file.addEventListener('change', () => {
    previewed = null;
    runButton.disabled = true;
    output.replaceChildren();
    report(status, true, '');
  });

  async function upload(dryRun) {
    const chosen = file.files?.[0];
    if (!chosen) return report(status, false, 'Choose a CSV file first.');
    const words = OUTCOME_WORDS[dryRun ? 'preview' : 'run'];
    previewButton.disabled = runButton.disabled = true;
    progress.value = 0;
    progressLabel.textContent = dryRun ? 'Checking…' : 'Importing…';
    try {
      const result = await uploadCsv(`dryRun=${dryRun}&lines=true`, chosen, (share) => {
        progress.value = share;
        progressLabel.textContent = `${dryRun ? 'Checking' : 'Importing'}: ${Math.round(share * 100)}% of the file read`;
      });
      progress.value = 1;
      progressLabel.textContent = dryRun ? 'Preview done' : 'Import done';
      report(
        status,
        result.failed === 0 && !result.aborted,
        `${dryRun ? 'Preview' : 'Import'}: ${summary(result, words)}`,
      );
      const download = h(
        'a',
        {
          href: URL.createObjectURL(new Blob([reportCsv(result)], { type: 'text/csv' })),
          download: `roster-import-${dryRun ? 'preview' : 'report'}.csv`,
          class: 'button-link',
        },
        dryRun ? 'Download the preview' : 'Download the report',
      );
      output.replaceChildren(
        h('p', {}, download),
        linesTable(result, words, dryRun ? 'Preview per line' : 'Import per line'),
      );
      previewed = dryRun ? chosen : null;
    } catch (err) {
      progressLabel.textContent = 'Stopped';
      report(status, false, err.message);
      output.replaceChildren(...(err.lines ?? []).map((e) => h('p', {}, `Line ${e.line}: ${e.reason}`)));
    } finally {
      previewButton.disabled = false;
      runButton.disabled = previewed === null;
    }
  }

  previewButton.addEventListener('click', () => void upload(true));
  runButton.addEventListener('click', async () => {
    if (await confirmAction(`Import ${previewed?.name ?? 'the file'}? New users get no email.`, 'Import'))
      void upload(false);
  });

  return h(
    'section',
    { 'aria-labelledby': 'import-title' },
    h('h1', { id: 'import-title' }, 'CSV import'),
    h(
      'p',
      {},
      'Preview a file first: nothing is written until you import it. Users created by an import get no email.',
    ),
    h(
      'div',
      { class: 'card' },
      field('CSV file', file, 'UTF-8, a header line with Username and the other columns (see README).')[0],
      h('div', { class: 'row' }, previewButton, runButton),
      h('div', { class: 'progress' }, progressLabel, progress),
    ),
    status,
    output,
  );
}
