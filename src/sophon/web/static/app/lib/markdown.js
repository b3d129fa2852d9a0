// Markdown from models and tools: markdown-it with raw HTML off (so `<img onerror>` stays text),
// then DOMPurify over the result; links only http(s), mailto, in-page or same-origin paths
// (so no `javascript:`), opened in a new tab without a referrer. Code blocks get a Copy button.
// Both libraries load on first use, not with the first page.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "./html.js";

const SAFE_URL = /^(?:https?:|mailto:|#|\/(?!\/))/i;
let loading = null;

export function markdownRenderer() {
  if (!loading) {
    loading = Promise.all([import("markdown-it"), import("dompurify")]).then(([md, purify]) => {
      const it = new md.default({ html: false, linkify: true });
      const DOMPurify = purify.default;
      DOMPurify.addHook("afterSanitizeAttributes", (node) => {
        if (node.tagName === "A" && node.hasAttribute("href")) {
          node.setAttribute("target", "_blank");
          node.setAttribute("rel", "noopener noreferrer nofollow");
        }
      });
      return (text) =>
        DOMPurify.sanitize(it.render(text || ""), {
          ALLOWED_URI_REGEXP: SAFE_URL,
          FORBID_TAGS: ["style", "form", "input", "button", "iframe"],
          FORBID_ATTR: ["style"],
        });
    });
  }
  return loading;
}

function addCopyButtons(box) {
  for (const pre of box.querySelectorAll("pre")) {
    pre.tabIndex = 0; // scrollable: reachable by keyboard
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy secondary";
    button.textContent = "Copy";
    button.addEventListener("click", async () => {
      const code = pre.querySelector("code") || pre;
      try {
        await navigator.clipboard.writeText(code.textContent);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Copy failed";
      }
      setTimeout(() => (button.textContent = "Copy"), 2000);
    });
    const wrap = document.createElement("div");
    wrap.className = "code-block";
    pre.replaceWith(wrap);
    wrap.append(pre, button);
  }
}

export function Markdown({ text }) {
  const ref = useRef(null);
  const [render, setRender] = useState(null);
  useEffect(() => {
    markdownRenderer().then((fn) => setRender(() => fn));
  }, []);
  useEffect(() => {
    if (!render || !ref.current) return;
    ref.current.innerHTML = render(text);
    addCopyButtons(ref.current);
  }, [render, text]);
  if (!render) return html`<div class="markdown plain">${text}</div>`;
  return html`<div class="markdown" ref=${ref}></div>`;
}
