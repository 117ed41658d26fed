// The home dashboard's pure parts: how far a running run has got, and which experiments the
// cross-experiment run searches cover.
import type { Experiment, Run } from "../../api/types";

/** Params that name how many steps (or epochs) a run will take, in the order they are trusted. */
export const TOTAL_PARAMS = ["max_steps", "total_steps", "num_steps", "steps", "epochs", "num_epochs", "max_epochs", "n_epochs", "num_train_epochs", "iterations", "max_iter", "num_iterations"];

export interface Progress {
  /** the highest step any metric of the run has reached */
  step: number | null;
  /** the step count a param names (epochs, max_steps, …), when there is one */
  total: number | null;
  /** 0..1 when both are known */
  fraction: number | null;
  /** the key of the metric logged last, and its value */
  latest: { key: string; value: number | string; at: number } | null;
}

export function runProgress(run: Pick<Run, "data">): Progress {
  const metrics = (run.data.metrics ?? []).filter((m) => !m.key.startsWith("system/"));
  let step: number | null = null;
  let latest: Progress["latest"] = null;
  for (const m of metrics) {
    if (step === null || m.step > step) step = m.step;
    if (latest === null || m.timestamp > latest.at) latest = { key: m.key, value: m.value, at: m.timestamp };
  }
  const params = new Map((run.data.params ?? []).map((p) => [p.key.toLowerCase(), p.value]));
  let total: number | null = null;
  for (const key of TOTAL_PARAMS) {
    const n = Number(params.get(key));
    if (params.has(key) && Number.isFinite(n) && n > 0) {
      total = n;
      break;
    }
  }
  // steps counted from 0 (step = epochs - 1 at the last epoch) or from 1 both end at 100 %
  const fraction = total !== null && step !== null ? Math.min(1, (step + 1) / total) : null;
  return { step, total, fraction, latest };
}

/** The ids of the experiments whose runs the dashboard searches: the most recently updated
 * active ones, at most `limit` (MLflow's runs search takes a list of ids). */
export function recentExperimentIds(experiments: Experiment[], limit = 100): string[] {
  return [...experiments]
    .filter((e) => e.lifecycle_stage === "active")
    .sort((a, b) => (b.last_update_time ?? 0) - (a.last_update_time ?? 0))
    .slice(0, limit)
    .map((e) => e.experiment_id);
}
