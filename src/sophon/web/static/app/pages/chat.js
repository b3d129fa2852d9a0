// Chat: pick an agent, the session list (search over every session, "Load more", rename, archive,
// fork, delete), the messages (Markdown, sanitised), the reply streaming over /hubs/chat, tool
// calls as collapsible cards, pending approvals inline, and cancel of the running turn.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../lib/html.js";
import { api, enc, listAll } from "../lib/api.js";
import { useHub } from "../lib/hub.js";
import { navigate } from "../lib/router.js";
import { can } from "../lib/session.js";
import { Markdown } from "../lib/markdown.js";
import { uploadDocument } from "../lib/upload.js";
import { useDocumentStatus } from "../lib/documents.js";
import { ApprovalCard } from "../lib/approval.js";
import {
  ConfirmButton, ErrorBox, Field, Json, Loading, MoreButton, PageHead, Status, Time, useAction, useAsync, usePaged, toast,
} from "../lib/ui.js";

function ToolCallCard({ call, approval, onDecided }) {
  return html`<details class="tool-call" open=${call.status === "awaiting_approval"}>
    <summary>
      <span class="tool-name">${call.name}</span> <${Status} value=${call.riskLevel} />
      <span class="muted small">${call.status}</span>
    </summary>
    <div class="stack">
      <div><strong class="small">Arguments</strong><${Json} value=${call.arguments} /></div>
      ${call.result != null && html`<div><strong class="small">Result</strong>
        <pre class="result" tabindex="0">${call.result}</pre></div>`}
      ${approval && html`<${ApprovalCard} approval=${approval} compact onDecided=${onDecided} />`}
    </div>
  </details>`;
}

function Attached({ attachments }) {
  const documents = (attachments || []).filter((a) => a.documentId);
  if (!documents.length) return null;
  return html`<ul class="attachments small" aria-label="Attached documents">
    ${documents.map((a) => html`<li key=${a.documentId}><a href=${"/documents?open=" + enc(a.documentId)}>${a.name || a.documentId}</a></li>`)}
  </ul>`;
}

function Message({ message, approvals, onDecided }) {
  if (message.role === "tool" || message.role === "system") return null;
  const mine = message.role === "user";
  return html`<article class=${"message " + message.role} aria-label=${mine ? "You" : "Agent"}>
    <div class="meta small muted">${mine ? "You" : "Agent"} · <${Time} value=${message.createdAt} /></div>
    ${mine ? html`<div class="text">${message.content}</div>` : message.content && html`<${Markdown} text=${message.content} />`}
    <${Attached} attachments=${message.attachments} />
    ${message.toolCalls.map(
      (call) => html`<${ToolCallCard} key=${call.id} call=${call}
        approval=${call.approvalId && approvals[call.approvalId]} onDecided=${onDecided} />`,
    )}
  </article>`;
}

function SessionList({ sessions, current, filter }) {
  const shown = sessions.items.filter((s) => (s.title || "").toLowerCase().includes(filter.toLowerCase()));
  // a search covers every session, not only the pages loaded so far
  useEffect(() => {
    if (filter && sessions.hasMore && !sessions.loading && !sessions.error) sessions.more();
  }, [filter, sessions.hasMore, sessions.loading, sessions.items.length]);
  return html`<ul class="sessions" aria-label="Sessions">
    ${shown.map((s) => html`<li key=${s.id}><a href=${"/chat/" + s.id} aria-current=${s.id === current ? "page" : undefined}>
      <span class="title">${s.title || "Untitled"}</span>
      <span class="small muted">${s.messageCount} messages${s.archived ? " · archived" : ""}</span></a></li>`)}
    ${!sessions.loading && shown.length === 0 && html`<li class="muted small">No sessions.</li>`}
  </ul>
  ${!filter && html`<${MoreButton} list=${sessions} />`}`;
}

function SessionHeader({ session, onChanged }) {
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(session.title);
  const act = useAction(async (kind) => {
    const path = `/api/sessions/${enc(session.id)}`;
    if (kind === "rename") await api.patch(path, { title });
    if (kind === "archive") await api.patch(path, { archived: !session.archived });
    if (kind === "delete") {
      await api.del(path);
      toast("Session deleted.");
      onChanged();
      navigate("/chat");
      return;
    }
    if (kind === "fork") {
      const forked = await api.post(`${path}/fork`, {});
      toast("Session forked.");
      onChanged();
      navigate("/chat/" + forked.id);
      return;
    }
    setRenaming(false);
    onChanged();
  });
  return html`<div class="session-head">
    ${renaming
      ? html`<form class="row" onSubmit=${(e) => { e.preventDefault(); act.run("rename"); }}>
          <${Field} label="Session title"><input value=${title} onInput=${(e) => setTitle(e.target.value)} /></${Field}>
          <button type="submit">Save</button>
          <button type="button" class="secondary" onClick=${() => setRenaming(false)}>Cancel</button>
        </form>`
      : html`<h2 class="session-title">${session.title || "Untitled"}</h2>`}
    <div class="row">
      ${!renaming && html`<button type="button" class="secondary" onClick=${() => setRenaming(true)}>Rename</button>`}
      <button type="button" class="secondary" onClick=${() => act.run("archive")}>${session.archived ? "Unarchive" : "Archive"}</button>
      <button type="button" class="secondary" onClick=${() => act.run("fork")}>Fork</button>
      <${ConfirmButton} onConfirm=${() => act.run("delete")} label="Delete this session?">Delete</${ConfirmButton}>
    </div>
    <${ErrorBox} error=${act.error} />
  </div>`;
}

export default function Chat({ params }) {
  const [sessionId, setSessionId] = useState(params.sessionId || null);
  const [agentId, setAgentId] = useState("");
  const [filter, setFilter] = useState("");
  const [archived, setArchived] = useState(false);
  const [draft, setDraft] = useState("");
  const [running, setRunning] = useState(null); // {taskId, text, status}
  const [approvals, setApprovals] = useState({});
  const [failure, setFailure] = useState(null);
  const [attachments, setAttachments] = useState([]); // {key, name, id (once uploaded), progress}
  const [version, setVersion] = useState(0);
  const bottom = useRef(null);
  const refresh = () => setVersion((v) => v + 1);

  useEffect(() => setSessionId(params.sessionId || null), [params.sessionId]);
  const agents = useAsync(() => listAll("/api/agents"), []);
  const sessions = usePaged("/api/sessions", archived ? {} : { archived: false }, [version]);
  const session = useAsync(() => (sessionId ? api.get(`/api/sessions/${enc(sessionId)}`) : null), [sessionId, version]);
  const messages = useAsync(
    () => (sessionId ? listAll(`/api/sessions/${enc(sessionId)}/messages`) : []),
    [sessionId, version],
  );

  // what is still running or waiting in this session when it is opened
  useEffect(() => {
    setRunning(null);
    setFailure(null);
    setApprovals({});
    if (!sessionId) return;
    api.get("/api/tasks/active", { query: { limit: 200 } }).then((page) => {
      const task = page.items.find((t) => t.sessionId === sessionId);
      if (task) setRunning((r) => r || { taskId: task.id, text: "", status: task.status });
    }, () => null);
    listAll("/api/approvals").then((items) => {
      const mine = items.filter((a) => a.sessionId === sessionId);
      setApprovals((known) => ({ ...Object.fromEntries(mine.map((a) => [a.id, a])), ...known }));
    }, () => null);
  }, [sessionId]);

  useEffect(() => {
    if (!agentId && agents.data && agents.data.length) {
      const preferred = (session.data && session.data.agentId) || (agents.data.find((a) => a.name === "default") || agents.data[0]).id;
      setAgentId(preferred);
    }
  }, [agents.data, session.data]);

  const ours = (e) => e && (e.sessionId === sessionId || (running && e.taskId === running.taskId));
  const hub = useHub("chat", {
    StreamChunk: (e) => ours(e) && setRunning((r) => ({ ...(r || { taskId: e.taskId }), text: ((r && r.text) || "") + (e.delta || "") })),
    AgentStatus: (e) => ours(e) && setRunning((r) => r && { ...r, status: e.status }),
    TaskStarted: (e) => ours(e) && setRunning((r) => r || { taskId: e.taskId, text: "", status: "Running" }),
    ToolCallStarted: (e) => ours(e) && refresh(),
    ToolCallCompleted: (e) => ours(e) && refresh(),
    ReceiveMessage: (e) => {
      if (!ours(e)) return;
      setRunning((r) => r && { ...r, text: "" });
      refresh();
    },
    ApprovalRequested: (e) => ours(e) && (setApprovals((a) => ({ ...a, [e.id]: e })), refresh()),
    ApprovalResolved: (e) => ours(e) && setApprovals((a) => ({ ...a, [e.id]: e })),
    TaskCompleted: (e) => ours(e) && (setRunning(null), refresh()),
    TaskCancelled: (e) => ours(e) && (setRunning(null), toast("The turn was cancelled."), refresh()),
    TaskFailed: (e) => ours(e) && (setRunning(null), setFailure(e.error || "The turn failed."), refresh()),
  });

  useEffect(() => {
    const connection = hub.connection;
    if (!connection || !sessionId) return undefined;
    connection.invoke("JoinSession", sessionId).catch(() => null);
    return () => connection.state === "Connected" && connection.invoke("LeaveSession", sessionId).catch(() => null);
  }, [hub.connection, sessionId]);

  useEffect(() => {
    if (bottom.current && bottom.current.scrollIntoView) bottom.current.scrollIntoView({ block: "end" });
  }, [messages.data, running && running.text]);

  const send = useAction(async () => {
    const content = draft.trim();
    if (!content || uploading) return;
    setFailure(null);
    const body = { content, agentId: agentId || undefined, sessionId: sessionId || undefined, isStreaming: true };
    if (attachments.length) body.attachments = attachments.map((a) => a.id);
    const accepted = hub.connection
      ? await hub.connection.invoke("SendMessage", body)
      : await api.post("/api/chat", body);
    setDraft("");
    setAttachments([]);
    setRunning({ taskId: accepted.taskId, text: "", status: "Queued" });
    if (accepted.sessionId !== sessionId) {
      history.replaceState(null, "", "/chat/" + accepted.sessionId); // no remount mid-stream
      setSessionId(accepted.sessionId);
    }
    refresh();
  });
  const cancel = useAction(async () => {
    if (running) await api.post(`/api/tasks/${enc(running.taskId)}/cancel`);
  });
  const attach = useAction(async (files) => {
    for (const file of files) {
      const key = `${file.name}-${Math.random()}`;
      setAttachments((all) => [...all, { key, name: file.name, id: null, progress: 0 }]);
      try {
        const doc = await uploadDocument(file, {}, (p) =>
          setAttachments((all) => all.map((a) => (a.key === key ? { ...a, progress: p } : a))));
        setAttachments((all) => all.map((a) => (a.key === key ? { ...a, id: doc.id, status: doc.status, progress: 1 } : a)));
      } catch (error) {
        setAttachments((all) => all.filter((a) => a.key !== key));
        throw error;
      }
    }
  });
  // an attachment is usable once its pipeline is Ready: follow the ones still on their way
  useDocumentStatus(attachments, (key, patch) =>
    setAttachments((all) => all.map((a) => (a.key === key ? { ...a, ...patch } : a))), { every: 500 });
  const uploading = attachments.some((a) => a.status !== "Ready");
  const onDecided = (out) => {
    setApprovals((a) => ({ ...a, [out.id]: out }));
    refresh();
  };

  const chatAllowed = can("UseChat");
  const list = messages.data || [];
  const known = new Set(list.flatMap((m) => m.toolCalls.map((c) => c.approvalId)).filter(Boolean));
  const loose = Object.values(approvals).filter((a) => a.status === "Pending" && !known.has(a.id));
  return html`<${PageHead} title="Chat">
      <span class=${"hub-state small " + hub.state} role="status">${hub.state === "connected" ? "Live" : hub.state}</span>
    </${PageHead}>
    <div class="chat">
      <aside class="chat-side" aria-label="Sessions and agent">
        <${Field} label="Agent">
          <select value=${agentId} onChange=${(e) => setAgentId(e.target.value)} disabled=${!!sessionId}>
            ${(agents.data || []).map((a) => html`<option value=${a.id}>${a.name}</option>`)}
          </select>
        </${Field}>
        <button type="button" onClick=${() => { setSessionId(null); navigate("/chat"); }}>New chat</button>
        <${Field} label="Search sessions"><input type="search" value=${filter} onInput=${(e) => setFilter(e.target.value)} /></${Field}>
        <label class="check"><input type="checkbox" checked=${archived} onChange=${(e) => setArchived(e.target.checked)} /> Show archived</label>
        <${ErrorBox} error=${sessions.error || agents.error} />
        <${SessionList} sessions=${sessions} current=${sessionId} filter=${filter} />
      </aside>
      <section class="chat-main" aria-label="Conversation">
        ${session.data && html`<${SessionHeader} key=${session.data.id + session.data.title} session=${session.data} onChanged=${refresh} />`}
        <${ErrorBox} error=${session.error || messages.error} />
        <div class="messages" aria-live="polite">
          ${messages.loading && !messages.data && sessionId && html`<${Loading} />`}
          ${!sessionId && html`<p class="empty">Start a conversation: write below.</p>`}
          ${list.map((m) => html`<${Message} key=${m.id} message=${m} approvals=${approvals} onDecided=${onDecided} />`)}
          ${loose.map((a) => html`<${ApprovalCard} key=${a.id} approval=${a} onDecided=${onDecided} />`)}
          ${running && html`<article class="message assistant streaming" aria-label="Agent (replying)" aria-busy="true">
            <div class="meta small muted">Agent · ${running.status || "working"}…</div>
            ${running.text ? html`<${Markdown} text=${running.text} />` : html`<span class="typing">Thinking…</span>`}
          </article>`}
          ${failure && html`<div class="error" role="alert">${failure}</div>`}
          <div ref=${bottom}></div>
        </div>
        <${ErrorBox} error=${send.error || cancel.error || attach.error} />
        ${chatAllowed && html`<form class="composer" onSubmit=${(e) => { e.preventDefault(); send.run(); }}>
          <${Field} label="Message">
            <textarea rows="3" value=${draft} onInput=${(e) => setDraft(e.target.value)}
              onKeyDown=${(e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send.run(); } }}></textarea>
          </${Field}>
          ${attachments.length > 0 && html`<ul class="attachments small" aria-label="Attachments">
            ${attachments.map((a) => html`<li key=${a.key}>
              ${a.name} ${a.id ? html`<${Status} value=${a.status} />` : html`<progress max="1" value=${a.progress} aria-label=${"Uploading " + a.name}></progress>`}
              ${a.error && html`<span class="small">${a.error}</span>`}
              <button type="button" class="secondary small" aria-label=${"Remove " + a.name}
                onClick=${() => setAttachments((all) => all.filter((x) => x.key !== a.key))}>×</button>
            </li>`)}
          </ul>`}
          <div class="row">
            <button type="submit" disabled=${send.busy || uploading || !draft.trim()}>Send</button>
            ${can("UseChat") && html`<label class="button secondary">Attach
              <input type="file" multiple class="visually-hidden" aria-label="Attach documents"
                onChange=${(e) => { attach.run([...e.target.files]); e.target.value = ""; }} /></label>`}
            ${running && html`<button type="button" class="danger" onClick=${() => cancel.run()} disabled=${cancel.busy}>Cancel</button>`}
          </div>
        </form>`}
      </section>
    </div>`;
}
