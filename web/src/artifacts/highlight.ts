// Syntax highlighting with highlight.js core and only the four languages previews need.
import hljs from "highlight.js/lib/core";
import json from "highlight.js/lib/languages/json";
import yaml from "highlight.js/lib/languages/yaml";
import python from "highlight.js/lib/languages/python";
import ini from "highlight.js/lib/languages/ini";

hljs.registerLanguage("json", json);
hljs.registerLanguage("yaml", yaml);
hljs.registerLanguage("python", python);
hljs.registerLanguage("ini", ini);

/** HTML for `code` (highlight.js escapes the text itself). */
export function highlight(code: string, language: "json" | "yaml" | "python" | "ini"): string {
  return hljs.highlight(code, { language, ignoreIllegals: true }).value;
}
