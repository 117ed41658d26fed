// CSV/TSV previews: the first rows of the first bytes of a file, never the whole file.
import Papa from "papaparse";

export interface TablePreview {
  fields: string[];
  rows: string[][];
  /** more rows exist than shown (row limit reached, or the bytes read ended mid-file) */
  truncated: boolean;
}

/** Parse `text` (the first bytes of a file; `partial` when the file goes on) into a header and
 * at most `maxRows` rows. A partial text's last line may be cut in half, so it is dropped. */
export function parseCsvPreview(text: string, partial: boolean, maxRows: number, delimiter?: string): TablePreview {
  let body = text.replace(/^\uFEFF/, "");
  if (partial) {
    const cut = body.lastIndexOf("\n");
    body = cut >= 0 ? body.slice(0, cut) : "";
  }
  const parsed = Papa.parse<string[]>(body, { delimiter, preview: maxRows + 2, skipEmptyLines: true });
  const all = parsed.data.filter((r) => Array.isArray(r));
  if (all.length === 0) return { fields: [], rows: [], truncated: partial };
  const [fields, ...rest] = all;
  const rows = rest.slice(0, maxRows);
  const width = Math.max(fields.length, ...rows.map((r) => r.length));
  const header = Array.from({ length: width }, (_, i) => fields[i] ?? `column ${i + 1}`);
  return { fields: header, rows, truncated: partial || rest.length > maxRows };
}
