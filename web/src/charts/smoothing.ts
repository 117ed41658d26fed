// Exponential moving average for chart lines, applied in the browser to the bucket means.

/** EMA with weight `w` in [0, 1): s_t = w·s_{t−1} + (1−w)·x_t, debiased by 1 − w^t so the
 * line starts at the first value instead of creeping up from zero. Gaps (null, NaN) are kept
 * as gaps and do not reset the average. `w` = 0 returns the values unchanged. */
export function ema(values: readonly (number | null)[], w: number): (number | null)[] {
  if (!(w > 0)) return values.slice();
  const weight = Math.min(w, 0.999);
  const out: (number | null)[] = new Array(values.length);
  let acc = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || !Number.isFinite(v)) {
      out[i] = null;
      continue;
    }
    acc = weight * acc + (1 - weight) * v;
    n += 1;
    out[i] = acc / (1 - Math.pow(weight, n));
  }
  return out;
}

/** The slider's 0..100 position as an EMA weight in [0, 0.99]. */
export function sliderToWeight(position: number): number {
  const p = Math.max(0, Math.min(100, Number.isFinite(position) ? position : 0));
  return Math.round(p * 0.99 * 100) / 10000;
}
