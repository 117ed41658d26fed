// A Markdown artifact drawn as elements from markdown.ts's tree (never as HTML).
import { useMemo, type ReactNode } from "react";
import { parseMarkdown, type Block, type Inline } from "./markdown";

function inline(parts: Inline[]): ReactNode[] {
  return parts.map((p, i) => {
    switch (p.t) {
      case "text":
        return p.text;
      case "code":
        return <code key={i}>{p.text}</code>;
      case "strong":
        return <strong key={i}>{inline(p.children)}</strong>;
      case "em":
        return <em key={i}>{inline(p.children)}</em>;
      case "link":
        return p.href === null ? (
          <span key={i} className="md-unsafe-link" title="link target not followed">
            {inline(p.children)}
          </span>
        ) : (
          <a key={i} href={p.href} target="_blank" rel="noopener noreferrer nofollow">
            {inline(p.children)}
          </a>
        );
    }
  });
}

function block(b: Block, i: number): ReactNode {
  switch (b.t) {
    case "heading": {
      const H = `h${b.level}` as "h1";
      return <H key={i}>{inline(b.children)}</H>;
    }
    case "paragraph":
      return <p key={i}>{inline(b.children)}</p>;
    case "code":
      return (
        <pre key={i} className="preview-code" data-language={b.lang || "text"}>
          <code>{b.text}</code>
        </pre>
      );
    case "quote":
      return <blockquote key={i}>{b.children.map(block)}</blockquote>;
    case "rule":
      return <hr key={i} />;
    case "list": {
      const items = b.items.map((it, j) => <li key={j}>{inline(it)}</li>);
      return b.ordered ? (
        <ol key={i} start={b.start}>
          {items}
        </ol>
      ) : (
        <ul key={i}>{items}</ul>
      );
    }
    case "table":
      return (
        <div key={i} className="preview-table-wrap">
          <table className="preview-table compact">
            <thead>
              <tr>
                {b.head.map((h, j) => (
                  <th key={j} style={{ textAlign: b.align[j] ?? undefined }}>
                    {inline(h)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {b.rows.map((r, j) => (
                <tr key={j}>
                  {r.map((c, k) => (
                    <td key={k} style={{ textAlign: b.align[k] ?? undefined }}>
                      {inline(c)}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
  }
}

export function MarkdownView({ text }: { text: string }) {
  const blocks = useMemo(() => parseMarkdown(text), [text]);
  return (
    <div className="preview-markdown" data-testid="markdown-preview">
      {blocks.map(block)}
    </div>
  );
}
