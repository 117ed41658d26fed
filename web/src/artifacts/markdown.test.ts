import { describe, expect, it } from "vitest";
import { parseInline, parseMarkdown, safeHref } from "./markdown";
import { artifactKind } from "./kinds";

describe("Markdown previews", () => {
  it("reads headings, paragraphs, lists, code, quotes, rules and tables", () => {
    const text = [
      "# Report",
      "",
      "The model has **F1 0.91** and `n=150`,",
      "over two lines.",
      "",
      "- one",
      "- two",
      "  continued",
      "",
      "3. third",
      "4. fourth",
      "",
      "```python",
      "print('x')  # **not bold**",
      "```",
      "> quoted *text*",
      "---",
      "| class | f1 |",
      "|:--|--:|",
      "| a | 0.9 |",
      "| b \\| c | 0.8 |",
    ].join("\n");
    const blocks = parseMarkdown(text);
    expect(blocks.map((b) => b.t)).toEqual(["heading", "paragraph", "list", "list", "code", "quote", "rule", "table"]);
    expect(blocks[1]).toEqual({
      t: "paragraph",
      children: [{ t: "text", text: "The model has " }, { t: "strong", children: [{ t: "text", text: "F1 0.91" }] }, { t: "text", text: " and " }, { t: "code", text: "n=150" }, { t: "text", text: ", over two lines." }],
    });
    expect(blocks[2]).toEqual({ t: "list", ordered: false, start: 1, items: [[{ t: "text", text: "one" }], [{ t: "text", text: "two continued" }]] });
    expect(blocks[3]).toMatchObject({ t: "list", ordered: true, start: 3 });
    expect(blocks[4]).toEqual({ t: "code", lang: "python", text: "print('x')  # **not bold**" });
    expect(blocks[5]).toEqual({ t: "quote", children: [{ t: "paragraph", children: [{ t: "text", text: "quoted " }, { t: "em", children: [{ t: "text", text: "text" }] }] }] });
    const table = blocks[7]!;
    if (table.t !== "table") throw new Error("not a table");
    expect(table.align).toEqual(["left", "right"]);
    expect(table.rows.map((r) => r.map((c) => (c[0] as { text: string }).text))).toEqual([["a", "0.9"], ["b | c", "0.8"]]);
  });

  it("keeps raw HTML as text and follows no script links", () => {
    expect(parseInline("<script>alert(1)</script>")).toEqual([{ t: "text", text: "<script>alert(1)</script>" }]);
    expect(parseInline("[x](javascript:alert(1))")[0]).toMatchObject({ t: "link", href: null });
    expect(parseInline("[x](JavaScript:alert(1))")).toEqual([{ t: "link", href: null, children: [{ t: "text", text: "x" }] }]);
    expect(parseInline("[wiki](https://en.wikipedia.org/wiki/F1_(score)) end")).toEqual([
      { t: "link", href: "https://en.wikipedia.org/wiki/F1_(score)", children: [{ t: "text", text: "wiki" }] },
      { t: "text", text: " end" },
    ]);
    expect(parseInline("[docs](https://example.org/a)")[0]).toEqual({ t: "link", href: "https://example.org/a", children: [{ t: "text", text: "docs" }] });
    expect(safeHref("data:text/html,x")).toBeNull();
    expect(safeHref("plots/roc.png")).toBe("plots/roc.png");
    expect(safeHref("mailto:a@b.c")).toBe("mailto:a@b.c");
  });

  it("leaves snake_case words alone", () => {
    expect(parseInline("see feature_importance_v2 now")).toEqual([{ t: "text", text: "see feature_importance_v2 now" }]);
  });
});

describe("media kinds", () => {
  it.each([
    ["README.md", "markdown"],
    ["report.PDF", "pdf"],
    ["clip.mp3", "audio"],
    ["speech.wav", "audio"],
    ["run.mp4", "video"],
    ["run.webm", "video"],
  ])("%s is %s", (path, kind) => {
    expect(artifactKind(path)).toBe(kind);
  });
});
