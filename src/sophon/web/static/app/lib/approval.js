// One pending approval: what will run (tool, risk, preview, arguments) and the decision —
// approve, edit the arguments (JSON checked against the tool's schema before sending; the
// Gateway checks again), or reject with a reason. Used inline in chat and on the Approvals page.
import { useState } from "preact/hooks";
import { html } from "./html.js";
import { api, enc, listAll } from "./api.js";
import { can } from "./session.js";
import { ErrorBox, Field, Json, Status, Time, useAction, toast } from "./ui.js";

let catalog = null;
function toolSchema(name) {
  if (!catalog) catalog = listAll("/api/tools");
  return catalog.then((tools) => (tools.find((t) => t.name === name) || {}).parameters || null);
}

const TYPES = {
  string: (v) => typeof v === "string",
  integer: (v) => Number.isInteger(v),
  number: (v) => typeof v === "number",
  boolean: (v) => typeof v === "boolean",
  object: (v) => v !== null && typeof v === "object" && !Array.isArray(v),
  array: (v) => Array.isArray(v),
};

/** Problems of `value` against a JSON schema's top level: required fields, types, extras. */
export function schemaProblems(schema, value) {
  if (!schema) return [];
  if (!TYPES.object(value)) return ["The arguments must be a JSON object."];
  const problems = [];
  const properties = schema.properties || {};
  for (const name of schema.required || []) {
    if (!(name in value)) problems.push(`${name}: required`);
  }
  for (const [name, item] of Object.entries(value)) {
    const rule = properties[name];
    if (!rule) {
      if (schema.additionalProperties === false) problems.push(`${name}: not an argument of this tool`);
      continue;
    }
    const types = [].concat(rule.type || []);
    if (types.length && !types.some((t) => (TYPES[t] || (() => true))(item) || (t === "null" && item === null))) {
      problems.push(`${name}: must be ${types.join(" or ")}`);
    }
  }
  return problems;
}

export function ApprovalCard({ approval, onDecided, compact = false }) {
  const [mode, setMode] = useState(null); // null | "edit" | "reject"
  const [text, setText] = useState(JSON.stringify(approval.arguments, null, 2));
  const [reason, setReason] = useState("");
  const [problems, setProblems] = useState([]);
  const decide = useAction(async (verb, body) => {
    const out = await api.post(`/api/approvals/${enc(approval.id)}/${verb}`, body);
    toast(`${approval.toolName}: ${out.status}.`);
    onDecided && onDecided(out);
    return out;
  });
  const saveEdit = async () => {
    let value;
    try {
      value = JSON.parse(text);
    } catch (error) {
      setProblems([`Not valid JSON: ${error.message}`]);
      return;
    }
    const found = schemaProblems(await toolSchema(approval.toolName), value);
    setProblems(found);
    if (found.length === 0) decide.run("edit", { arguments: value });
  };
  const pending = approval.status === "Pending";
  const allowed = can("ApproveActions");
  return html`<section class="card approval" aria-label=${`Approval for ${approval.toolName}`}>
    <div class="row">
      <strong>${approval.toolName}</strong>
      <${Status} value=${approval.riskLevel} />
      <${Status} value=${approval.status} />
      <span class="muted small">expires <${Time} value=${approval.expiresAt} /></span>
    </div>
    ${approval.preview && html`<pre class="preview" tabindex="0">${approval.preview}</pre>`}
    ${!compact && html`<details><summary>Arguments</summary><${Json} value=${approval.arguments} /></details>`}
    <${ErrorBox} error=${decide.error} title="The decision failed" />
    ${pending && !allowed && html`<p class="muted">Waiting for someone allowed to approve actions.</p>`}
    ${pending && allowed && mode === null && html`<div class="row">
      <button type="button" disabled=${decide.busy} onClick=${() => decide.run("approve")}>Approve</button>
      ${approval.editable !== false && html`<button type="button" class="secondary" onClick=${() => setMode("edit")}>Edit</button>`}
      <button type="button" class="danger" onClick=${() => setMode("reject")}>Reject</button>
    </div>`}
    ${pending && allowed && mode === "edit" && html`<div class="stack">
      <${Field} label="Arguments (JSON)"><textarea class="code" value=${text}
        onInput=${(e) => setText(e.target.value)}></textarea></${Field}>
      ${problems.length > 0 && html`<ul class="error" role="alert">${problems.map((p) => html`<li>${p}</li>`)}</ul>`}
      <div class="row">
        <button type="button" disabled=${decide.busy} onClick=${saveEdit}>Approve with these arguments</button>
        <button type="button" class="secondary" onClick=${() => setMode(null)}>Back</button>
      </div>
    </div>`}
    ${pending && allowed && mode === "reject" && html`<div class="stack">
      <${Field} label="Reason (optional)"><input value=${reason} onInput=${(e) => setReason(e.target.value)} /></${Field}>
      <div class="row">
        <button type="button" class="danger" disabled=${decide.busy}
          onClick=${() => decide.run("reject", { reason: reason || null })}>Reject</button>
        <button type="button" class="secondary" onClick=${() => setMode(null)}>Back</button>
      </div>
    </div>`}
    ${approval.reason && html`<p class="small">Reason: ${approval.reason}</p>`}
  </section>`;
}
