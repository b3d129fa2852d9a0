// Approvals: the pending queue, live over /hubs/approvals; each with its argument preview and
// approve / edit (JSON checked against the tool's schema) / reject with a reason; the history.
import { useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { useHub } from "../lib/hub.js";
import { ApprovalCard } from "../lib/approval.js";
import { ListState, PageHead, Status, Tabs, Time, usePaged } from "../lib/ui.js";

function Pending() {
  const list = usePaged("/api/approvals");
  const upsert = (approval) =>
    list.setItems((items) => [approval, ...items.filter((a) => a.id !== approval.id)]);
  const hub = useHub("approvals", {
    ApprovalRequested: upsert,
    ApprovalResolved: (approval) => list.setItems((items) => items.filter((a) => a.id !== approval.id)),
  });
  const pending = list.items.filter((a) => a.status === "Pending");
  return html`<p class="small muted" role="status">${hub.state === "connected" ? "Live: new requests appear here." : hub.state}</p>
    <${ListState} list=${{ ...list, items: pending }} empty="Nothing is waiting for approval.">
      <div class="stack">
        ${pending.map((a) => html`<div key=${a.id}>
          <p class="small muted">Requested <${Time} value=${a.createdAt} />${a.sessionId && html` in <a href=${"/chat/" + a.sessionId}>its chat</a>`}</p>
          <${ApprovalCard} approval=${a} onDecided=${(out) => list.setItems((items) => items.filter((x) => x.id !== out.id))} />
        </div>`)}
      </div>
    </${ListState}>`;
}

function History() {
  const list = usePaged("/api/approvals/history");
  return html`<${ListState} list=${list} empty="No decisions yet.">
    <div class="table-wrap"><table>
      <thead><tr><th>Tool</th><th>Risk</th><th>Status</th><th>Decided</th><th>Reason</th></tr></thead>
      <tbody>${list.items.map((a) => html`<tr key=${a.id}>
        <td><code>${a.toolName}</code></td><td><${Status} value=${a.riskLevel} /></td>
        <td><${Status} value=${a.status} /></td><td><${Time} value=${a.decidedAt || a.expiresAt} /></td>
        <td>${a.reason || ""}</td></tr>`)}</tbody>
    </table></div>
  </${ListState}>`;
}

export default function Approvals() {
  const [tab, setTab] = useState("pending");
  return html`<${PageHead} title="Approvals" />
    <${Tabs} label="Approvals" current=${tab} onSelect=${setTab} tabs=${[["pending", "Pending"], ["history", "History"]]}>
      ${tab === "pending" ? html`<${Pending} />` : html`<${History} />`}
    </${Tabs}>`;
}
