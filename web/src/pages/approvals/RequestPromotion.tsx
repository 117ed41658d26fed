// "Request promotion" on a model version: a stage or an alias, whether to archive the versions
// now in that stage, and a comment. Under a policy this makes a pending request; without one
// (or for a caller the policy lets through) the server moves the version at once.
import { useState } from "react";
import { useMutation } from "@tanstack/react-query";
import { ErrorText } from "../../lib/widgets";
import { isApplied, requestPromotion, type Target } from "./api";
import { useRefreshApprovals } from "./hooks";
import { targetLabel } from "./logic";

const STAGES = ["Staging", "Production", "Archived", "None"];

export function RequestPromotion({ name, version, current }: { name: string; version: string; current: string }) {
  const refresh = useRefreshApprovals();
  const [kind, setKind] = useState<"stage" | "alias">("stage");
  const [stage, setStage] = useState(current === "Production" ? "Archived" : "Production");
  const [alias, setAlias] = useState("");
  const [archive, setArchive] = useState(false);
  const [comment, setComment] = useState("");
  const target: Target = kind === "stage" ? { stage } : { alias: alias.trim().replace(/^@/, "") };
  const ask = useMutation({
    mutationFn: (v: { target: Target; archive: boolean; comment: string }) => requestPromotion(name, version, v.target, v.archive, v.comment),
    onSuccess: () => {
      setComment("");
      return refresh();
    },
  });
  const ready = kind === "stage" || !!alias.trim();
  return (
    <section className="card box section" aria-labelledby="promote-h" data-testid="request-promotion">
      <h2 id="promote-h">Request promotion</h2>
      <form
        className="stack-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (ready) ask.mutate({ target, archive: kind === "stage" && archive, comment: comment.trim() });
        }}
      >
        <div className="form-row" role="radiogroup" aria-label="Move to">
          <label>
            <input type="radio" name="promote-kind" checked={kind === "stage"} onChange={() => setKind("stage")} data-testid="promote-kind-stage" /> stage
          </label>
          <select className="input" value={stage} disabled={kind !== "stage"} onChange={(e) => setStage(e.target.value)} aria-label="Stage" data-testid="promote-stage">
            {STAGES.filter((s) => s !== current).map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
          <label>
            <input type="radio" name="promote-kind" checked={kind === "alias"} onChange={() => setKind("alias")} data-testid="promote-kind-alias" /> alias
          </label>
          <input
            className="input"
            placeholder="champion"
            value={alias}
            disabled={kind !== "alias"}
            onChange={(e) => setAlias(e.target.value)}
            aria-label="Alias"
            data-testid="promote-alias"
          />
        </div>
        <label className="check">
          <input
            type="checkbox"
            checked={archive}
            disabled={kind !== "stage" || (stage !== "Production" && stage !== "Staging")}
            onChange={(e) => setArchive(e.target.checked)}
            data-testid="promote-archive"
          />{" "}
          archive the versions now in that stage
        </label>
        <label className="field">
          <span>Comment</span>
          <textarea className="input" rows={2} value={comment} onChange={(e) => setComment(e.target.value)} data-testid="promote-comment" />
        </label>
        <div className="form-row">
          <button type="submit" className="btn primary" disabled={!ready || ask.isPending} data-testid="promote-submit">
            Request {targetLabel(target)}
          </button>
        </div>
      </form>
      {ask.data && (
        <p role="status" data-testid="promote-result">
          {isApplied(ask.data)
            ? `No approval needed: version ${version} moved to ${targetLabel(ask.variables.target)}.`
            : `Request #${ask.data.id} is waiting for ${ask.data.required_approvals} approval${ask.data.required_approvals === 1 ? "" : "s"}.`}
        </p>
      )}
      <ErrorText error={ask.error} />
    </section>
  );
}
