// A line diff (longest common subsequence), for persona file versions.
import { html } from "./html.js";

export function diffLines(before, after) {
  const a = (before || "").split("\n");
  const b = (after || "").split("\n");
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push(["-", a[i++]]);
    else out.push(["+", b[j++]]);
  }
  while (i < n) out.push(["-", a[i++]]);
  while (j < m) out.push(["+", b[j++]]);
  return out;
}

export function Diff({ before, after, label }) {
  const lines = diffLines(before, after);
  return html`<pre class="diff" tabindex="0" aria-label=${label}>${lines.map(
    ([mark, text], k) => html`<span key=${k} class=${mark === "+" ? "add" : mark === "-" ? "del" : ""}>${mark} ${text}\n</span>`,
  )}</pre>`;
}
