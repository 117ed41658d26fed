// A small Markdown reader for artifact previews: the common block and inline forms (headings,
// paragraphs, lists, fenced code, quotes, rules, pipe tables; code, bold, italic, links) into a
// tree the preview renders as elements. No HTML is passed through (raw tags stay text), and a
// link keeps only http(s), mailto and relative targets, so a report cannot run script.

export type Inline =
  | { t: "text"; text: string }
  | { t: "code"; text: string }
  | { t: "strong"; children: Inline[] }
  | { t: "em"; children: Inline[] }
  | { t: "link"; href: string | null; children: Inline[] };

export type Block =
  | { t: "heading"; level: 1 | 2 | 3 | 4 | 5 | 6; children: Inline[] }
  | { t: "paragraph"; children: Inline[] }
  | { t: "code"; lang: string; text: string }
  | { t: "quote"; children: Block[] }
  | { t: "list"; ordered: boolean; start: number; items: Inline[][] }
  | { t: "rule" }
  | { t: "table"; head: Inline[][]; align: ("left" | "right" | "center" | null)[]; rows: Inline[][][] };

/** A link target a preview may follow: http(s), mailto, an anchor or a relative path; null
 * for anything else (javascript:, data:, vbscript:, …). */
export function safeHref(href: string): string | null {
  const h = href.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(h);
  if (!scheme) return h;
  return ["http", "https", "mailto"].includes(scheme[1]!.toLowerCase()) ? h : null;
}

const INLINE = /(`+)([\s\S]*?[^`])\1(?!`)|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|\*([^*\s][\s\S]*?)\*|_([^_\s][\s\S]*?)_(?![A-Za-z0-9])|\[([^\]]*)\]\(((?:[^()\s]|\([^()\s]*\))*)(?:\s+"[^"]*")?\)|<(https?:\/\/[^>\s]+)>/;

export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let rest = text;
  for (let guard = 0; rest && guard < 10_000; guard++) {
    const m = INLINE.exec(rest);
    if (!m) {
      out.push({ t: "text", text: rest });
      break;
    }
    if (m.index > 0) out.push({ t: "text", text: rest.slice(0, m.index) });
    if (m[1] !== undefined) out.push({ t: "code", text: m[2]!.trim() || m[2]! });
    else if (m[3] !== undefined || m[4] !== undefined) out.push({ t: "strong", children: parseInline((m[3] ?? m[4])!) });
    else if (m[5] !== undefined || m[6] !== undefined) out.push({ t: "em", children: parseInline((m[5] ?? m[6])!) });
    else if (m[7] !== undefined) out.push({ t: "link", href: safeHref(m[8]!), children: parseInline(m[7]) });
    else out.push({ t: "link", href: safeHref(m[9]!), children: [{ t: "text", text: m[9]! }] });
    rest = rest.slice(m.index + m[0].length);
  }
  return merge(out);
}

function merge(parts: Inline[]): Inline[] {
  const out: Inline[] = [];
  for (const p of parts) {
    const last = out[out.length - 1];
    if (p.t === "text" && last?.t === "text") last.text += p.text;
    else out.push(p);
  }
  return out;
}

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const FENCE = /^(\s{0,3})(`{3,}|~{3,})\s*([\w+-]*)/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/;
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;
const TABLE_RULE = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function cells(line: string): string[] {
  let s = line.trim();
  if (s.startsWith("|")) s = s.slice(1);
  if (s.endsWith("|") && !s.endsWith("\\|")) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

export function parseMarkdown(text: string, depth = 0): Block[] {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let i = 0;
  const startsBlock = (line: string) =>
    HEADING.test(line) || FENCE.test(line) || BULLET.test(line) || NUMBERED.test(line) || RULE.test(line) || QUOTE.test(line);
  while (i < lines.length) {
    const line = lines[i]!;
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[2]!;
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i]!.trim().startsWith(marker)) body.push(lines[i++]!);
      i++; // the closing fence (or the end)
      blocks.push({ t: "code", lang: fence[3] ?? "", text: body.join("\n") });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ t: "heading", level: heading[1]!.length as 1 | 2 | 3 | 4 | 5 | 6, children: parseInline(heading[2]!) });
      i++;
      continue;
    }
    if (RULE.test(line)) {
      blocks.push({ t: "rule" });
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i]!)) body.push(QUOTE.exec(lines[i++]!)![1]!);
      blocks.push({ t: "quote", children: depth < 8 ? parseMarkdown(body.join("\n"), depth + 1) : [{ t: "paragraph", children: [{ t: "text", text: body.join(" ") }] }] });
      continue;
    }
    const bullet = BULLET.test(line);
    const numbered = NUMBERED.exec(line);
    if (bullet || numbered) {
      const items: Inline[][] = [];
      const pattern = bullet ? BULLET : NUMBERED;
      while (i < lines.length) {
        const m = pattern.exec(lines[i]!);
        if (m) {
          items.push(parseInline(bullet ? m[1]! : m[2]!));
          i++;
        } else if (lines[i]!.trim() && /^\s{2,}/.test(lines[i]!) && items.length) {
          const last = items[items.length - 1]!;
          last.push({ t: "text", text: " " }, ...parseInline(lines[i]!.trim()));
          i++;
        } else break;
      }
      blocks.push({ t: "list", ordered: !bullet, start: numbered ? Number(numbered[1]) : 1, items: items.map(merge) });
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && TABLE_RULE.test(lines[i + 1]!) && lines[i + 1]!.includes("-")) {
      const head = cells(line);
      const align = cells(lines[i + 1]!).map((c) => (c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : c.startsWith(":") ? "left" : null));
      i += 2;
      const rows: Inline[][][] = [];
      while (i < lines.length && lines[i]!.includes("|") && lines[i]!.trim()) {
        const row = cells(lines[i++]!);
        rows.push(head.map((_, j) => parseInline(row[j] ?? "")));
      }
      blocks.push({ t: "table", head: head.map(parseInline), align, rows });
      continue;
    }
    const body: string[] = [line.trim()];
    i++;
    while (i < lines.length && lines[i]!.trim() && !startsBlock(lines[i]!)) body.push(lines[i++]!.trim());
    blocks.push({ t: "paragraph", children: parseInline(body.join(" ")) });
  }
  return blocks;
}
