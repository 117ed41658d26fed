import { describe, expect, it } from "vitest";
import type { Experiment, Run } from "../../api/types";
import { recentExperimentIds, runProgress } from "./logic";

const run = (metrics: [string, number, number, number][], params: Record<string, string> = {}): Pick<Run, "data"> => ({
  data: {
    metrics: metrics.map(([key, value, step, timestamp]) => ({ key, value, step, timestamp })),
    params: Object.entries(params).map(([key, value]) => ({ key, value })),
  },
});

describe("a running run's progress", () => {
  it("takes the highest step and the metric logged last", () => {
    const p = runProgress(run([["loss", 0.4, 12, 2000], ["acc", 0.8, 10, 3000], ["system/cpu", 50, 99, 4000]]));
    expect(p.step).toBe(12);
    expect(p.latest).toEqual({ key: "acc", value: 0.8, at: 3000 });
    expect(p.total).toBeNull();
    expect(p.fraction).toBeNull();
  });
  it("measures it against an epochs or max_steps param", () => {
    expect(runProgress(run([["loss", 1, 4, 1]], { epochs: "10" })).fraction).toBeCloseTo(0.5);
    expect(runProgress(run([["loss", 1, 9, 1]], { Epochs: "10" })).fraction).toBe(1);
    expect(runProgress(run([["loss", 1, 30, 1]], { max_steps: "20", epochs: "3" })).total).toBe(20);
    expect(runProgress(run([["loss", 1, 3, 1]], { epochs: "many" })).total).toBeNull();
  });
  it("has nothing for a run that logged nothing yet", () => {
    expect(runProgress(run([], { epochs: "5" }))).toEqual({ step: null, total: 5, fraction: null, latest: null });
  });
});

describe("the experiments the dashboard searches", () => {
  it("are the most recently updated active ones", () => {
    const e = (id: string, t: number, stage: "active" | "deleted" = "active"): Experiment => ({ experiment_id: id, name: id, lifecycle_stage: stage, last_update_time: t });
    expect(recentExperimentIds([e("1", 5), e("2", 9), e("3", 7, "deleted"), e("4", 1)], 2)).toEqual(["2", "1"]);
  });
});
