import { describe, expect, it } from "vitest";
import { applySuggestion, complete, insideString, type KnownKeys } from "./autocomplete";
import { columnLabel, columnWidth, DEFAULT_ATTRIBUTES, layoutColumns, parseColumnId, quoteKey, searchKey } from "./columns";
import { csvField, toCsv } from "./csv";
import { buildTree, flattenTree } from "./tree";
import { decodeView, encodeView, EMPTY_VIEW, parseOrder } from "./urlState";


const KEYS: KnownKeys = {
  params: ["lr", "max_depth", "n_estimators", "learning rate"],
  metrics: ["loss", "val_loss", "accuracy"],
  tags: ["team", "mlflow.runName"],
};

describe("URL state", () => {
  it("round-trips every field", () => {
    const state = {
      filter: "metrics.loss < 0.5 AND params.lr = '0.1'",
      order: { key: "metrics.`val loss`", desc: true },
      columns: ["params.lr", "metrics.loss", "tags.team"],
      pinned: ["metrics.loss"],
      selected: ["abc", "def"],
      deleted: true,
      charts: true,
      group: "params.optimizer",
      agg: "max" as const,
      savedView: "best of sweep",
    };
    const encoded = encodeView(state);
    expect(encoded.get("mode")).toBe("charts");
    expect(encoded.get("deleted")).toBe("1");
    expect(decodeView(new URLSearchParams(encoded.toString()))).toEqual(state);
  });
  it("leaves defaults out of the URL and keeps other params", () => {
    const base = new URLSearchParams("tab=x&q=old&sel=a&deleted=1");
    expect(encodeView(EMPTY_VIEW, base).toString()).toBe("tab=x");
  });
  it("tells no chosen columns (default) from an empty choice", () => {
    expect(decodeView(new URLSearchParams("")).columns).toBeNull();
    expect(decodeView(new URLSearchParams("cols=")).columns).toEqual([]);
    expect(encodeView({ ...EMPTY_VIEW, columns: [] }).toString()).toBe("cols=");
  });
  it("parses orders with and without a direction", () => {
    expect(parseOrder("metrics.loss desc")).toEqual({ key: "metrics.loss", desc: true });
    expect(parseOrder("params.`learning rate` ASC")).toEqual({ key: "params.`learning rate`", desc: false });
    expect(parseOrder("start_time")).toEqual({ key: "start_time", desc: false });
    expect(parseOrder("")).toBeNull();
  });
  it("drops empty list entries", () => {
    expect(decodeView(new URLSearchParams("sel=a,,b,&pin=")).selected).toEqual(["a", "b"]);
  });
});

describe("columns", () => {
  it("parses ids and quotes keys that need it", () => {
    expect(parseColumnId("params.learning rate")).toEqual({ kind: "params", key: "learning rate" });
    expect(parseColumnId("tags.mlflow.runName")).toEqual({ kind: "tags", key: "mlflow.runName" });
    expect(parseColumnId("bogus.x")).toBeNull();
    expect(parseColumnId("params.")).toBeNull();
    expect(quoteKey("loss")).toBe("loss");
    expect(quoteKey("val loss")).toBe("`val loss`");
    expect(quoteKey("mlflow.runName")).toBe("`mlflow.runName`");
    expect(searchKey("metrics.val loss")).toBe("metrics.`val loss`");
    expect(searchKey("attributes.start_time")).toBe("attributes.start_time");
    expect(searchKey("attributes.duration")).toBeNull();
    expect(columnLabel("attributes.user_id")).toBe("User");
  });
});

describe("filter autocomplete", () => {
  const at = (text: string) => complete(text, text.length, KEYS);

  it("offers prefixes for a partial word", () => {
    expect(at("met")?.suggestions.map((s) => s.value)).toEqual(["metrics."]);
    expect(at("metrics.loss < 1 AND pa")?.suggestions.map((s) => s.value)).toEqual(["params."]);
    expect(at("metrics.loss < 1 AND")).toBeNull(); // a keyword, not a key
  });
  it("offers the keys of a prefix, starts-with before contains", () => {
    const got = at("metrics.lo")!;
    expect(got.suggestions.map((s) => s.label)).toEqual(["loss", "val_loss"]);
    expect(got.start).toBe(0);
    expect(at("params.")!.suggestions.map((s) => s.label)).toEqual(["learning rate", "lr", "max_depth", "n_estimators"]);
  });
  it("quotes keys that need backticks and understands aliases", () => {
    expect(at("tags.mlf")!.suggestions[0].value).toBe("tags.`mlflow.runName`");
    expect(at("param.`learn")!.suggestions[0].value).toBe("param.`learning rate`");
    expect(at("attr.st")!.suggestions.map((s) => s.label)).toEqual(["start_time", "status", "lifecycle_stage"]);
  });
  it("stays quiet inside string literals", () => {
    expect(insideString("params.x = 'metr", 16)).toBe(true);
    expect(insideString("params.x = 'a''b' AND met", 25)).toBe(false);
    expect(insideString("params.x = 'it\\'s' AND met", 26)).toBe(false);
    expect(at("params.model = 'metrics.lo")).toBeNull();
  });
  it("completes after a parenthesis", () => {
    expect(at("(metrics.acc")!.suggestions[0].value).toBe("metrics.accuracy");
  });
  it("replaces the typed token and the rest of the key", () => {
    const text = "metrics.lo < 2";
    const c = complete(text, 10, KEYS)!;
    const applied = applySuggestion(text, c, c.suggestions[0]);
    expect(applied.text).toBe("metrics.loss < 2");
    expect(applied.cursor).toBe(12);
    const prefix = complete("pa", 2, KEYS)!;
    expect(applySuggestion("pa", prefix, prefix.suggestions[0])).toEqual({ text: "params.", cursor: 7 });
    const end = complete("metrics.acc", 11, KEYS)!;
    expect(applySuggestion("metrics.acc", end, end.suggestions[0]).text).toBe("metrics.accuracy ");
  });
});

describe("CSV", () => {
  it("quotes commas, quotes and line breaks", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField(null)).toBe("");
    expect(csvField(undefined)).toBe("");
    expect(csvField(0.5)).toBe("0.5");
  });
  it("defuses spreadsheet formulas but keeps negative numbers", () => {
    expect(csvField("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvField("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvField("-1.5e-3")).toBe("-1.5e-3");
    expect(csvField(-2)).toBe("-2");
    expect(csvField("-x")).toBe("'-x");
  });
  it("joins rows with CRLF", () => {
    expect(toCsv(["a", "b"], [[1, "x,y"], [null, 2]])).toBe('a,b\r\n1,"x,y"\r\n,2\r\n');
  });
});

describe("run tree", () => {
  type R = { id: string; parent: string | null };
  const node = (r: R) => ({ id: r.id, parentId: r.parent });
  const runs: R[] = [
    { id: "a", parent: null },
    { id: "a1", parent: "a" },
    { id: "b", parent: null },
    { id: "a2", parent: "a" },
    { id: "a1x", parent: "a1" },
    { id: "orphan", parent: "not-loaded" },
  ];
  const ids = (rows: { item: R; depth: number }[]) => rows.map((r) => `${r.item.id}:${r.depth}`);

  it("keeps children under loaded parents and orphans at the top", () => {
    const tree = buildTree(runs, node);
    expect(tree.roots.map((r) => r.id)).toEqual(["a", "b", "orphan"]);
    expect(tree.children.get("a")!.map((r) => r.id)).toEqual(["a1", "a2"]);
  });
  it("shows children only when expanded, in order, with depth", () => {
    const tree = buildTree(runs, node);
    expect(ids(flattenTree(tree, new Set(), (r) => r.id))).toEqual(["a:0", "b:0", "orphan:0"]);
    const open = flattenTree(tree, new Set(["a", "a1"]), (r) => r.id);
    expect(ids(open)).toEqual(["a:0", "a1:1", "a1x:2", "a2:1", "b:0", "orphan:0"]);
    expect(open[0].childCount).toBe(2);
    expect(open[0].expanded).toBe(true);
    expect(open[4].childCount).toBe(0);
  });
  it("survives a cycle", () => {
    const cyc: R[] = [
      { id: "x", parent: "y" },
      { id: "y", parent: "x" },
      { id: "self", parent: "self" },
    ];
    const tree = buildTree(cyc, node);
    expect(tree.roots.map((r) => r.id)).toEqual(["self"]);
    expect(flattenTree(tree, new Set(["x", "y"]), (r) => r.id).length).toBe(1);
  });
});

describe("layoutColumns", () => {
  it("puts the checkbox, the name and the pinned columns first, with their sticky offsets", () => {
    const { columns, width } = layoutColumns(["attributes.status", "metrics.loss", "params.lr"], ["params.lr"]);
    expect(columns.map((c) => c.id)).toEqual(["select", "name", "params.lr", "attributes.status", "metrics.loss"]);
    expect(columns.map((c) => c.pinned)).toEqual([true, true, true, false, false]);
    expect(columns.slice(0, 3).map((c) => c.left)).toEqual([0, 40, 270]);
    expect(columns.map((c) => c.label)).toEqual(["", "Run", "lr", "Status", "loss"]);
    expect(width).toBe(columns.reduce((s, c) => s + c.width, 0));
  });
  it("ignores a pin on a column that is not shown, and sizes keys by their length within bounds", () => {
    const { columns } = layoutColumns(["metrics.a", `params.${"k".repeat(40)}`], ["tags.gone"]);
    expect(columns.filter((c) => c.pinned).map((c) => c.id)).toEqual(["select", "name"]);
    expect(columnWidth("metrics.a")).toBe(96);
    expect(columnWidth(`params.${"k".repeat(40)}`)).toBe(200);
    expect(columnWidth("attributes.start_time")).toBe(170);
  });
  it("fits the name and six metric columns beside the default attributes at 1280×720", () => {
    const metrics = ["loss", "val_loss", "accuracy", "val_accuracy", "f1_score", "precision"].map((k) => `metrics.${k}`);
    const { width } = layoutColumns([...DEFAULT_ATTRIBUTES, ...metrics], []);
    // the page's content box at 1280 px: 1280 less the page padding (2 × 24) and the card's border
    expect(width).toBeLessThanOrEqual(1280 - 48 - 2);
  });
});
