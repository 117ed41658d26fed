// /models/:name/versions/:version — one model version: its run, its files, the models:/ URIs
// that load it (with copy buttons and a Python snippet), description and tags.
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import "../../viz/pages.css";
import { formatValue, metricNumber } from "../compare/logic";
import {
  artifactDownloadHref,
  deleteVersionTag,
  downloadUri,
  formatTime,
  getVersion,
  listArtifacts,
  modelUris,
  performance,
  proxiedPath,
  pythonSnippet,
  setVersionTag,
  tagsOf,
  updateVersion,
} from "./api";
import { Crumbs, ErrorText } from "../../lib/widgets";
import { CopyButton, DescriptionEditor, StageBadge, TagEditor } from "./widgets";
import { RequestPromotion } from "../approvals/RequestPromotion";
import { HistoryPanel } from "../audit/HistoryPanel";
import { VersionEvaluations } from "../evaluations/widgets";
import { DeleteVersion } from "./actions";

export function ModelVersionPage() {
  const { name = "", version = "" } = useParams();
  const client = useQueryClient();
  const navigate = useNavigate();
  const mv = useQuery({ queryKey: ["model-version", name, version], queryFn: () => getVersion(name, version) });
  const uri = useQuery({ queryKey: ["download-uri", name, version], queryFn: () => downloadUri(name, version) });
  const perf = useQuery({ queryKey: ["model-perf", name], queryFn: () => performance(name) });
  const refresh = () =>
    Promise.all([
      client.invalidateQueries({ queryKey: ["model-version", name, version] }),
      client.invalidateQueries({ queryKey: ["model-perf", name] }),
      client.invalidateQueries({ queryKey: ["audit"] }),
    ]);
  const trail = [
    { to: "/models", label: "Models" },
    { to: `/models/${encodeURIComponent(name)}`, label: name },
  ];
  if (mv.isError) {
    return (
      <div className="page">
        <Crumbs trail={trail} />
        <ErrorText error={mv.error} />
      </div>
    );
  }
  if (!mv.data) return <div className="page muted">Loading…</div>;
  const v = mv.data;
  const info = perf.data?.versions.find((p) => p.version.version === version);
  const uris = modelUris({ name, version, current_stage: v.current_stage, aliases: v.aliases });
  const snippetUri = uris[uris.length > 1 ? 1 : 0].uri; // an alias when there is one
  return (
    <div className="page" data-testid="model-version-page">
      <Crumbs trail={trail} />
      <div className="page-head">
        <h1>
          {name} · version {version} <StageBadge stage={v.current_stage} />
          {(v.aliases ?? []).map((a) => (
            <span key={a} className="alias" style={{ fontSize: 13 }}>
              @{a}
            </span>
          ))}
        </h1>
        <DeleteVersion
          name={name}
          version={version}
          onDone={async () => {
            // to the model's page first: this page's queries would ask for the deleted version
            navigate(`/models/${encodeURIComponent(name)}`);
            await client.invalidateQueries({ queryKey: ["model-perf", name] });
          }}
        />
      </div>
      <div className="grid-2 section">
        <div className="card box">
          <dl className="kv">
            <dt>Source run</dt>
            <dd>
              {v.run_id ? (
                <Link to={`/runs/${v.run_id}`} data-testid="version-run-link">
                  {info?.run?.run_name ?? v.run_id}
                </Link>
              ) : (
                <span className="muted">none</span>
              )}
            </dd>
            {info?.run && (
              <>
                <dt>Run metrics</dt>
                <dd className="mono" style={{ fontSize: 12 }}>
                  {Object.entries(info.run.metrics)
                    .sort(([a], [b]) => a.localeCompare(b))
                    .map(([k, val]) => (
                      <div key={k}>
                        {k}: {formatValue(metricNumber(val))}
                      </div>
                    ))}
                </dd>
              </>
            )}
            <dt>Datasets</dt>
            <dd>
              {(info?.datasets ?? []).length === 0 && <span className="muted">none recorded</span>}
              {(info?.datasets ?? []).map((d) => (
                <div key={d.dataset_id}>
                  <Link to={`/datasets/${d.dataset_id}`}>{d.name}</Link> <span className="muted">{d.context}</span>
                </div>
              ))}
            </dd>
            <dt>Source</dt>
            <dd className="mono">{v.source}</dd>
            {v.model_id && (
              <>
                <dt>Logged model</dt>
                <dd className="mono">{v.model_id}</dd>
              </>
            )}
            <dt>Created</dt>
            <dd>
              {formatTime(v.creation_timestamp)}
              {v.user_id && ` by ${v.user_id}`}
            </dd>
            <dt>Updated</dt>
            <dd>{formatTime(v.last_updated_timestamp)}</dd>
            <dt>Status</dt>
            <dd>{v.status}</dd>
          </dl>
          <h3 style={{ marginTop: 12 }}>Description</h3>
          <DescriptionEditor value={v.description ?? ""} onSave={(d) => updateVersion(name, version, d).then(refresh)} testId="version-description" />
          <h3>Tags</h3>
          <TagEditor
            tags={tagsOf(v.tags)}
            onSet={(k, val) => setVersionTag(name, version, k, val).then(refresh)}
            onDelete={(k) => deleteVersionTag(name, version, k).then(refresh)}
            testId="version-tags"
          />
        </div>
        <div className="card box">
          <h3>Load this model</h3>
          {uris.map((u) => (
            <div className="uri-row" key={u.uri} data-testid="model-uri">
              <span className="muted" style={{ minWidth: 110 }}>
                {u.label}
              </span>
              <code>{u.uri}</code>
              <CopyButton text={u.uri} label={u.uri} />
            </div>
          ))}
          <Snippet uri={snippetUri} />
        </div>
      </div>
      <section className="section card box" aria-labelledby="files-h">
        <h2 id="files-h">Files</h2>
        <ErrorText error={uri.error} />
        {uri.data && <Files artifactUri={uri.data} />}
      </section>
      <VersionEvaluations name={name} version={version} />
      <RequestPromotion name={name} version={version} current={v.current_stage} />
      <HistoryPanel subject={{ kind: "version", name, version }} title="History: who changed this version" />
    </div>
  );
}

function Snippet({ uri }: { uri: string }) {
  const code = pythonSnippet(uri);
  return (
    <>
      <pre className="snippet" data-testid="python-snippet">
        {code}
      </pre>
      <CopyButton text={code} label="Python snippet" />
    </>
  );
}

function Files({ artifactUri }: { artifactUri: string }) {
  const root = proxiedPath(artifactUri);
  const [dir, setDir] = useState(root ?? "");
  const files = useQuery({ queryKey: ["artifacts", dir], queryFn: () => listArtifacts(dir), enabled: root !== null });
  if (root === null) {
    return (
      <p className="muted">
        Stored at <code>{artifactUri}</code>, which this server does not proxy; download it with <code>mlflow.artifacts.download_artifacts</code>.
      </p>
    );
  }
  const rel = dir.slice(root.length).replace(/^\//, "");
  return (
    <div data-testid="version-files">
      <p className="note">
        <code>{artifactUri}</code>
        {rel && ` / ${rel}`}
      </p>
      <ErrorText error={files.error} />
      <table className="data-table">
        <tbody>
          {dir !== root && (
            <tr>
              <td colSpan={2}>
                <button type="button" className="btn small ghost" onClick={() => setDir(dir.split("/").slice(0, -1).join("/"))}>
                  ↑ up
                </button>
              </td>
            </tr>
          )}
          {(files.data ?? []).map((f) => (
            <tr key={f.path} data-testid="version-file">
              <td>
                {f.is_dir ? (
                  <button type="button" className="btn small ghost" onClick={() => setDir(`${dir}/${f.path}`)}>
                    📁 {f.path}/
                  </button>
                ) : (
                  <a href={artifactDownloadHref(dir, f.path)} download>
                    {f.path}
                  </a>
                )}
              </td>
              <td className="muted">{f.is_dir ? "" : `${(f.file_size ?? 0).toLocaleString()} bytes`}</td>
            </tr>
          ))}
          {files.data?.length === 0 && (
            <tr>
              <td className="muted">No files</td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}
