import { describe, expect, it } from "vitest";
import { buildSpanTree, durationMs, plainValue, spanStatus, spanTime, timelineBar, tokenUsage, type WireSpan } from "./spans";

// ns since the epoch as the exact strings OTLP/JSON carries
const at = (ms: number) => (BigInt(1_700_000_000_000 + ms) * BigInt(1_000_000)).toString();

function span(id: string, parent: string | undefined, name: string, start: number, end: number | undefined, extra: Partial<WireSpan> = {}): WireSpan {
  return {
    span_id: id,
    parent_span_id: parent,
    name,
    start_time_unix_nano: at(start),
    end_time_unix_nano: end === undefined ? undefined : at(end),
    status: { code: "STATUS_CODE_OK" },
    ...extra,
  };
}

describe("buildSpanTree", () => {
  it("nests children under parents in start order, depth first", () => {
    // given out of order, as the server may return them
    const tree = buildSpanTree([
      span("c2", "root", "answer", 40, 90),
      span("g1", "c1", "embed", 12, 20),
      span("root", undefined, "pipeline", 0, 100),
      span("c1", "root", "retrieve", 10, 30),
    ]);
    expect(tree.roots.map((r) => r.name)).toEqual(["pipeline"]);
    expect(tree.rows.map((r) => `${r.depth}:${r.name}`)).toEqual(["0:pipeline", "1:retrieve", "2:embed", "1:answer"]);
    expect(tree.total).toBe(100);
    const retrieve = tree.rows[1];
    expect(retrieve.offset).toBe(10);
    expect(retrieve.duration).toBe(20);
    expect(timelineBar(retrieve, tree.total)).toEqual({ left: 10, width: 20 });
  });

  it("makes a span whose parent is missing a root, and keeps an unfinished span open to the end", () => {
    const tree = buildSpanTree([span("a", undefined, "first", 0, 50), span("b", "gone", "orphan", 20, undefined)]);
    expect(tree.roots.map((r) => r.name)).toEqual(["first", "orphan"]);
    const orphan = tree.rows[1];
    expect(orphan.duration).toBeNull();
    expect(timelineBar(orphan, tree.total)).toEqual({ left: 40, width: 60 });
  });

  it("gives an instant span a visible bar and survives a cycle", () => {
    const tree = buildSpanTree([span("a", undefined, "root", 0, 100), span("b", "a", "tick", 100, 100), span("x", "y", "x", 1, 2), span("y", "x", "y", 1, 2)]);
    const tick = tree.rows.find((r) => r.name === "tick")!;
    expect(timelineBar(tick, tree.total)).toEqual({ left: 100, width: 0.5 });
    // x and y are each other's parent: neither is reachable from a root, the walk still ends
    expect(tree.rows.map((r) => r.name)).toEqual(["root", "tick"]);
  });

  it("reads MLflow's inputs, outputs, type and the other attributes and events", () => {
    const tree = buildSpanTree([
      span("a", undefined, "llm", 0, 10, {
        attributes: [
          { key: "mlflow.spanInputs", value: { string_value: '{"q": "hi"}' } },
          { key: "mlflow.spanOutputs", value: { string_value: '"HI"' } },
          { key: "mlflow.spanType", value: { string_value: '"LLM"' } },
          { key: "model", value: { string_value: "m1" } },
          { key: "n", value: { int_value: "3" } },
        ],
        events: [{ name: "retry", time_unix_nano: at(5), attributes: [{ key: "ok", value: { bool_value: false } }] }],
        status: { code: "STATUS_CODE_ERROR", message: "boom" },
      }),
    ]);
    const s = tree.rows[0];
    expect(s.inputs).toEqual({ q: "hi" });
    expect(s.outputs).toBe("HI");
    expect(s.type).toBe("LLM");
    expect(s.attributes).toEqual({ model: "m1", n: 3 });
    expect(s.events).toEqual([{ name: "retry", at: 5, attributes: { ok: false } }]);
    expect(s.status).toBe("ERROR");
    expect(s.statusMessage).toBe("boom");
  });

  it("reads JSON numbers past 2^53 to the µs", () => {
    const t = 1_700_000_000_000_000_000;
    const tree = buildSpanTree([{ span_id: "a", name: "a", start_time_unix_nano: t, end_time_unix_nano: t + 1_234_000 }]);
    expect(tree.rows[0].duration).toBe(1.234);
  });

  it("leaves out MLflow's default span type", () => {
    const tree = buildSpanTree([span("a", undefined, "f", 0, 1, { attributes: [{ key: "mlflow.spanType", value: { string_value: '"UNKNOWN"' } }] })]);
    expect(tree.rows[0].type).toBe("");
  });

  it("is empty without spans", () => {
    expect(buildSpanTree([])).toEqual({ roots: [], rows: [], total: 0 });
  });
});

describe("values", () => {
  it("turns OTLP values into JSON", () => {
    expect(plainValue({ kvlist_value: { values: [{ key: "a", value: { array_value: { values: [{ double_value: 1.5 }, { string_value: "x" }] } } }] } })).toEqual({ a: [1.5, "x"] });
    expect(spanStatus("STATUS_CODE_UNSET")).toBe("UNSET");
    expect(spanStatus(undefined)).toBe("UNSET");
  });

  it("reads token usage and durations", () => {
    expect(tokenUsage({ "mlflow.trace.tokenUsage": '{"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}' })).toEqual({ input: 3, output: 4, total: 7 });
    expect(tokenUsage({ "mlflow.trace.tokenUsage": "not json" })).toBeNull();
    expect(tokenUsage({})).toBeNull();
    expect(durationMs("0.046s")).toBe(46);
    expect(durationMs("12.5s")).toBe(12500);
    expect(durationMs(undefined)).toBeNull();
    expect(spanTime(0.214)).toBe("0.21ms");
    expect(spanTime(0)).toBe("0ms");
    expect(spanTime(280)).toBe("280ms");
    expect(spanTime(1234)).toBe("1.2s");
    expect(spanTime(null)).toBe("…");
  });
});
