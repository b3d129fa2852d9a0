// Light and dark themes: the system's by default, or the user's pick (a display preference,
// kept in localStorage; nothing secret is ever stored there).
import { useState } from "preact/hooks";
import { html } from "./lib/html.js";

const KEY = "sophon.theme";

export function applyTheme(choice = localStorage.getItem(KEY) || "system") {
  if (choice === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
}

export function ThemePicker() {
  const [choice, setChoice] = useState(localStorage.getItem(KEY) || "system");
  const pick = (event) => {
    const value = event.target.value;
    if (value === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, value);
    setChoice(value);
    applyTheme(value);
  };
  return html`<label class="theme">
    <span class="visually-hidden">Theme</span>
    <select aria-label="Theme" value=${choice} onChange=${pick}>
      <option value="system">System theme</option>
      <option value="light">Light</option>
      <option value="dark">Dark</option>
    </select>
  </label>`;
}
