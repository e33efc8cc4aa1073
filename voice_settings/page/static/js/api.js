// Requests to the server that serves this page, and the admin secret kept for this tab only.

const SECRET_KEY = "voice-settings.admin-secret";

export function adminSecret() {
  return sessionStorage.getItem(SECRET_KEY) || "";
}

export function setAdminSecret(secret) {
  if (secret) sessionStorage.setItem(SECRET_KEY, secret);
  else sessionStorage.removeItem(SECRET_KEY);
}

// {status, headers, body}: body is the decoded JSON reply, or null.
export async function request(path, { method = "GET", body, headers = {}, admin = false } = {}) {
  const sent = { ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (admin && adminSecret()) sent.Authorization = `Bearer ${adminSecret()}`;
  const response = await fetch(path, {
    method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let decoded = null;
  try {
    decoded = text ? JSON.parse(text) : null;
  } catch {
    decoded = { error: text };
  }
  return { status: response.status, headers: response.headers, body: decoded };
}

// The sentence an error reply carries, for a status line.
export function problem(reply) {
  if (reply.status === 401) return "The admin secret is missing or wrong: type it at the top of the page.";
  return (reply.body && reply.body.error) || `The server answered ${reply.status}.`;
}

// Element helper: el("p", {class: "hint", text: "..."}, child, ...).
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export function say(id, text) {
  document.getElementById(id).textContent = text;
}
