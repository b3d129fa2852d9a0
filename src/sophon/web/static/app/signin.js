// First run (the one-time setup token from the data dir, then the first admin's email and
// password) and sign-in. After an expired session the same page comes back, with the page the
// user was on still in the address bar.
import { useState } from "preact/hooks";
import { html } from "./lib/html.js";
import { setUp, signIn } from "./lib/auth.js";
import { ErrorBox, Field, useAction } from "./lib/ui.js";
import { ThemePicker } from "./theme.js";

function SetupForm({ onDone }) {
  const [form, setForm] = useState({ setupToken: "", email: "", displayName: "", password: "" });
  const action = useAction(async () => {
    await setUp(form);
    onDone();
  });
  const bind = (key) => ({ value: form[key], onInput: (e) => setForm({ ...form, [key]: e.target.value }) });
  return html`<form class="card auth" onSubmit=${(e) => { e.preventDefault(); action.run(); }}>
    <h1>Set up Sophon</h1>
    <p class="muted">No account exists yet. Paste the one-time setup token the Gateway wrote to
      <code>setup-token</code> in its data directory, and create the first administrator.</p>
    <${ErrorBox} error=${action.error} title="Setup failed" />
    <${Field} label="Setup token"><input name="setupToken" required autocomplete="off" ...${bind("setupToken")} /></${Field}>
    <${Field} label="Email"><input name="email" type="email" required autocomplete="username" ...${bind("email")} /></${Field}>
    <${Field} label="Display name"><input name="displayName" required autocomplete="name" ...${bind("displayName")} /></${Field}>
    <${Field} label="Password"><input name="password" type="password" required autocomplete="new-password" ...${bind("password")} /></${Field}>
    <button type="submit" disabled=${action.busy}>${action.busy ? "Creating…" : "Create administrator"}</button>
  </form>`;
}

function SignInForm({ expired, onDone }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const action = useAction(async () => {
    await signIn(email, password);
    onDone();
  });
  return html`<form class="card auth" onSubmit=${(e) => { e.preventDefault(); action.run(); }}>
    <h1>Sign in to Sophon</h1>
    ${expired && html`<p class="notice" role="status">Your session ended. Sign in again to continue where you were.</p>`}
    <${ErrorBox} error=${action.error} title="Sign-in failed" />
    <${Field} label="Email"><input name="email" type="email" required autocomplete="username"
      value=${email} onInput=${(e) => setEmail(e.target.value)} /></${Field}>
    <${Field} label="Password"><input name="password" type="password" required autocomplete="current-password"
      value=${password} onInput=${(e) => setPassword(e.target.value)} /></${Field}>
    <button type="submit" disabled=${action.busy}>${action.busy ? "Signing in…" : "Sign in"}</button>
  </form>`;
}

export function SignIn({ mode, expired, onDone }) {
  return html`<main id="main" class="center">
    <div class="auth-top"><${ThemePicker} /></div>
    ${mode === "setup" ? html`<${SetupForm} onDone=${onDone} />` : html`<${SignInForm} expired=${expired} onDone=${onDone} />`}
  </main>`;
}
