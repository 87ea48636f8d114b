/** What commands print on stdout: lines, tables, JSON lists and times. */
import type { Parsed } from "./args.js";

/** Writes a line on stdout. */
export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Prints rows as aligned columns under a header. */
export function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  out(line(header));
  for (const r of rows) out(line(r));
}

/**
 * Prints a list: with `--json` one JSON array of `toJson(item)`, else a table of `toRow(item)` under
 * `header`.
 */
export function printList<T>(
  parsed: Parsed,
  items: readonly T[],
  toJson: (item: T) => unknown,
  header: string[],
  toRow: (item: T) => string[],
): void {
  if (parsed.values.json) out(JSON.stringify(items.map(toJson)));
  else table(header, items.map(toRow));
}

/** ISO 8601 of a time in ms or a Date. */
export function iso(time: number | Date | null | undefined): string {
  if (time === null || time === undefined) return "-";
  return new Date(time).toISOString();
}
