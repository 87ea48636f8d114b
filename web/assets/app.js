// The revokit web page. The access token lives in memory only (this module's state); the refresh
// token lives in an HttpOnly, SameSite=Strict cookie the page never sees.

import { deviceName } from "./device.js";

const CSRF_HEADER = { "X-Requested-With": "revokit" };
const POLL_MS = 5000;

const state = {
  accessToken: null,
  sessionId: null,
  username: null,
  refreshTimer: 0,
  pollTimer: 0,
  copied: null,
  last: null,
};

const $ = (id) => document.getElementById(id);

// ---- HTTP ------------------------------------------------------------------------------------

/** One request; never retries. Returns the response and its parsed JSON body (or null). */
async function request(path, { method = "GET", body, token } = {}) {
  const headers = { ...CSRF_HEADER };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
    cache: "no-store",
  });
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  return { res, data };
}

/** An authenticated call: on 401 it refreshes once; if that fails the session is gone. */
async function call(path, options = {}) {
  let r = await request(path, { ...options, token: state.accessToken });
  if (r.res.status === 401 && state.accessToken) {
    if (await refresh()) {
      r = await request(path, { ...options, token: state.accessToken });
    }
    if (r.res.status === 401) {
      signedOut(
        "This device was signed out (logged out from another device, or the session ended). Please log in again.",
        true,
      );
      throw new SignedOut();
    }
  }
  return r;
}

class SignedOut extends Error {}

/** Uses the refresh cookie for a new access token. Returns whether it worked. */
async function refresh() {
  try {
    const { res, data } = await request("/auth/refresh", { method: "POST", body: { cookie: true } });
    if (res.ok && data?.access_token) {
      setTokens(data);
      return true;
    }
  } catch {
    // network error: treated as a failed refresh
  }
  return false;
}

function setTokens(data) {
  state.last = data;
  state.accessToken = data.access_token;
  state.sessionId = data.session_id;
  clearTimeout(state.refreshTimer);
  // Silent refresh well before expiry.
  const ms = Math.max(5000, Math.floor(Number(data.expires_in) * 1000 * 0.8));
  state.refreshTimer = setTimeout(async () => {
    if (!(await refresh()) && state.accessToken) {
      signedOut("Your session ended. Please log in again.", true);
    }
  }, ms);
}

// ---- views -----------------------------------------------------------------------------------

function say(message) {
  $("status").textContent = message;
}

function alertBox(message) {
  const el = $("alert");
  el.textContent = message ?? "";
  el.hidden = !message;
}

function describe(body, fallback) {
  return body?.error_description || fallback;
}

function showSignedIn() {
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  $("who").textContent = state.username ?? "";
  $("copy-token").disabled = false;
  $("demo-logout").disabled = false;
  clearInterval(state.pollTimer);
  state.pollTimer = setInterval(() => {
    if (document.visibilityState === "visible") loadDevices().catch(() => undefined);
  }, POLL_MS);
}

function showSignedOut() {
  clearTimeout(state.refreshTimer);
  clearInterval(state.pollTimer);
  state.accessToken = null;
  state.sessionId = null;
  state.username = null;
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  $("devices").replaceChildren();
  $("copy-token").disabled = true;
  $("demo-logout").disabled = true;
}

function signedOut(message, isAlert, moveFocus = true) {
  showSignedOut();
  if (isAlert) {
    alertBox(message);
    say("");
  } else {
    alertBox("");
    say(message);
  }
  if (moveFocus) $("signin-title").focus();
}

async function enter(tokenResponse) {
  setTokens(tokenResponse);
  const { res, data } = await call("/auth/me");
  if (!res.ok) throw new Error(describe(data, "Could not load your account"));
  state.username = data.username;
  alertBox("");
  showSignedIn();
  await loadDevices();
  $("account-title").focus();
}

// ---- devices ---------------------------------------------------------------------------------

function ago(iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

async function loadDevices() {
  if (!state.accessToken) return;
  const { res, data } = await call("/auth/sessions");
  if (!res.ok) {
    say(describe(data, "Could not load your devices"));
    return;
  }
  const list = $("devices");
  // This device first, then the others newest-used first.
  const sessions = [...data.sessions].sort(
    (x, y) =>
      Number(y.current) - Number(x.current) || Date.parse(y.last_used_at) - Date.parse(x.last_used_at),
  );
  const items = sessions.map((s) => {
    const li = document.createElement("li");
    li.className = s.current ? "device current" : "device";
    li.dataset.sessionId = s.session_id;
    const name = deviceName(s.user_agent);
    const title = document.createElement("div");
    title.className = "device-name";
    title.textContent = name;
    if (s.current) {
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = "This device";
      title.append(" ", badge);
    }
    const meta = document.createElement("div");
    meta.className = "device-meta";
    meta.textContent = `IP ${s.ip ?? "unknown"} · last used ${ago(s.last_used_at)} · signed in ${new Date(s.created_at).toLocaleString()}`;
    const btn = document.createElement("button");
    btn.type = "button";
    btn.className = "secondary";
    btn.textContent = s.current ? "Log out" : "Log out device";
    btn.setAttribute(
      "aria-label",
      `Log out ${s.current ? "this device" : name}, last used ${ago(s.last_used_at)}`,
    );
    btn.addEventListener("click", () => (s.current ? logout() : logoutDevice(s.session_id, name)));
    li.append(title, meta, btn);
    return li;
  });
  list.replaceChildren(...items);
}

async function logoutDevice(id, name) {
  try {
    const { res, data } = await call(`/auth/sessions/${encodeURIComponent(id)}`, { method: "DELETE" });
    say(res.status === 204 ? `${name} was logged out.` : describe(data, "Could not log that device out"));
    await loadDevices();
  } catch (e) {
    if (!(e instanceof SignedOut)) say("Network error");
  }
}

async function logout() {
  try {
    await request("/auth/logout", { method: "POST", token: state.accessToken });
  } catch {
    // the cookie is cleared by the server; locally we forget the token either way
  }
  signedOut("You are logged out of this device.");
}

async function logoutAll() {
  try {
    const { res, data } = await call("/auth/logout-all", { method: "POST" });
    if (res.status !== 204) {
      say(describe(data, "Could not log out everywhere"));
      return;
    }
    await request("/auth/logout", { method: "POST" }).catch(() => undefined); // clears the cookie
    signedOut("You are logged out of every device.");
  } catch (e) {
    if (!(e instanceof SignedOut)) say("Network error");
  }
}

// ---- forms -----------------------------------------------------------------------------------

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

async function onLogin(event) {
  event.preventDefault();
  const { username, password } = formValues(event.target);
  try {
    const { res, data } = await request("/auth/login", {
      method: "POST",
      body: { username, password, cookie: true },
    });
    if (res.ok) {
      event.target.reset();
      await enter(data);
      say(`Logged in as ${state.username}.`);
      return;
    }
    const messages = {
      401: "Wrong username or password.",
      403: "This account is disabled.",
      429: `Too many attempts. Try again in ${res.headers.get("Retry-After") ?? "a few"} seconds.`,
      503: "The server is temporarily unavailable. Try again shortly.",
    };
    alertBox(messages[res.status] ?? describe(data, "Could not log in."));
  } catch {
    alertBox("Network error: could not reach the server.");
  }
}

async function onRegister(event) {
  event.preventDefault();
  const { username, password } = formValues(event.target);
  try {
    const { res, data } = await request("/auth/register", { method: "POST", body: { username, password } });
    if (res.status === 201) {
      const login = await request("/auth/login", {
        method: "POST",
        body: { username, password, cookie: true },
      });
      event.target.reset();
      if (login.res.ok) {
        await enter(login.data);
        say(`Welcome, ${state.username}. Your account is ready.`);
      } else {
        say("Account created. Please log in.");
      }
      return;
    }
    alertBox(res.status === 409 ? "That username is taken." : describe(data, "Could not sign up."));
  } catch {
    alertBox("Network error: could not reach the server.");
  }
}

async function onPassword(event) {
  event.preventDefault();
  const body = formValues(event.target);
  try {
    const { res, data } = await call("/auth/password", { method: "POST", body });
    if (res.status === 204) {
      event.target.reset();
      alertBox("");
      say("Password changed. Every other device was logged out.");
      await loadDevices();
    } else {
      alertBox(
        res.status === 403
          ? "The current password is wrong."
          : describe(data, "Could not change the password."),
      );
    }
  } catch (e) {
    if (!(e instanceof SignedOut)) alertBox("Network error");
  }
}

// ---- the demo panel --------------------------------------------------------------------------

function copyToken() {
  if (!state.accessToken) return;
  state.copied = state.accessToken;
  $("copied").value = state.copied;
  $("replay").disabled = false;
  $("copied-note").textContent = "Copied. Now log out, then replay it.";
  navigator.clipboard?.writeText(state.copied).catch(() => undefined);
}

async function replay() {
  if (!state.copied) return;
  const out = $("replay-result");
  try {
    const { res, data } = await request("/auth/me", { token: state.copied });
    const challenge = res.headers.get("WWW-Authenticate");
    out.className = res.ok ? "ok" : "refused";
    out.textContent = [
      `HTTP ${res.status} ${res.ok ? "OK: the token is still accepted" : "refused"}`,
      challenge ? `WWW-Authenticate: ${challenge}` : null,
      JSON.stringify(data, null, 2),
    ]
      .filter(Boolean)
      .join("\n");
  } catch {
    out.textContent = "Network error";
  }
}

// ---- start -----------------------------------------------------------------------------------

function wire() {
  $("login-form").addEventListener("submit", onLogin);
  $("register-form").addEventListener("submit", onRegister);
  $("password-form").addEventListener("submit", onPassword);
  $("logout").addEventListener("click", logout);
  $("logout-all").addEventListener("click", logoutAll);
  $("reload-devices").addEventListener("click", () => loadDevices().catch(() => undefined));
  $("copy-token").addEventListener("click", copyToken);
  $("demo-logout").addEventListener("click", logout);
  $("replay").addEventListener("click", replay);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") loadDevices().catch(() => undefined);
  });
}

async function start() {
  wire();
  // A reload keeps the session through the refresh cookie; the access token is never stored.
  if (await refresh()) {
    try {
      await enter(state.last);
      return;
    } catch {
      // fall through to the login form
    }
  }
  signedOut("", false, false); // first paint: leave focus where the browser puts it
}

start()
  .catch(() => signedOut("Could not reach the server."))
  .finally(() => {
    document.body.dataset.ready = "true";
  });
