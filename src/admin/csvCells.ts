/**
 * Cells a spreadsheet would run as formulas (CSV injection): protected on export, restored on
 * import, so an exported file imports back unchanged.
 */

/** A cell a spreadsheet would run as a formula (OWASP's list: = + - @ tab CR), behind any quotes. */
const FORMULA_LIKE = /^'*[=+\-@\t\r]/;

/**
 * Export: a formula-looking cell gets a leading `'` (spreadsheets then show it as text). Cells that
 * already start with quotes before such a character get one more, so unprotectCell is its exact inverse.
 */
export function protectCell(value: string): string {
  return FORMULA_LIKE.test(value) ? `'${value}` : value;
}

/** Import: removes the one `'` protectCell added (a `'` before a formula-looking cell). */
export function unprotectCell(value: string): string {
  return value.startsWith("'") && FORMULA_LIKE.test(value.slice(1)) ? value.slice(1) : value;
}
