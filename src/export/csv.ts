/**
 * CSV as spreadsheets read it (RFC 4180): a header row, CRLF line ends, a field quoted when it
 * holds a comma, a double quote, CR or LF (its quotes doubled), and a UTF-8 byte order mark first
 * so that Excel reads names in UTF-8 rather than the system's code page.
 *
 * Text that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) gets
 * a leading `'`: a meter name is typed by a person and must stay a name when the file is opened.
 * Numbers are written as numbers; null is an empty field.
 *
 * @module
 */

/** One field: text (may be quoted or defused), a number, or null (empty). */
export type CsvField = string | number | null;

const BYTE_ORDER_MARK = "\uFEFF";
const NEEDS_QUOTES = /[",\r\n]/;
const FORMULA_START = /^[=+\-@\t\r]/;

/** The whole document: the byte order mark, the header row and the rows, each ending in CRLF. */
export function csvDocument(
  header: readonly string[],
  rows: Iterable<readonly CsvField[]>,
): string {
  const lines = [csvLine(header)];
  for (const row of rows) lines.push(csvLine(row));
  return BYTE_ORDER_MARK + lines.join("\r\n") + "\r\n";
}

/** One record, fields joined by commas (no line end). */
export function csvLine(fields: readonly CsvField[]): string {
  return fields.map(csvField).join(",");
}

function csvField(field: CsvField): string {
  if (field === null) return "";
  if (typeof field === "number") {
    if (!Number.isFinite(field)) return "";
    return String(field);
  }
  const text = FORMULA_START.test(field) ? `'${field}` : field;
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
