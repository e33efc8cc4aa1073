// The Assistants panel: the profile API's profiles listed, opened into a form generated from
// /api/schema, saved with If-Match (or created with If-None-Match: *), deleted after a
// confirmation; a 412 says someone else changed it and offers to reload or overwrite knowingly.

import { el, problem, request, say } from "./api.js";
import { buildFields, clearErrors, fillValues, readValues, showErrors } from "./form.js";

const form = document.getElementById("assistant-form");
const nameInput = document.getElementById("assistant-name");
const conflict = document.getElementById("assistant-conflict");
let names = [];
let open = null; // {name, etag, isNew}

export function assistantValues() {
  if (!open) return null;
  const { values } = readValues(form, names);
  delete values.description;
  return { name: open.isNew ? null : open.name, values };
}

export function openAssistant() {
  return open;
}

export async function initAssistants(info) {
  const off = document.getElementById("assistants-off");
  if (!info.admin) {
    off.hidden = false;
    off.textContent = "The profile API is off on this server: restart serve with PROFILES_ADMIN_SECRET set to edit assistants here.";
    document.querySelector("#assistants .split").hidden = true;
    return;
  }
  off.hidden = true;
  const schema = await request("/api/schema", { admin: true });
  if (schema.status !== 200) {
    say("assistant-status", "");
    off.hidden = false;
    off.textContent = problem(schema);
    return;
  }
  names = buildFields(document.getElementById("assistant-fields"), schema.body, "assistant-form");
  await listAssistants();
}

async function listAssistants(selected) {
  const reply = await request("/api/profiles", { admin: true });
  const list = document.getElementById("assistant-list");
  list.replaceChildren();
  if (reply.status !== 200) {
    list.append(el("li", { text: problem(reply) }));
    return;
  }
  for (const profile of reply.body.profiles) {
    const button = el("button", { type: "button", class: "choice", "data-name": profile.name,
      "aria-current": profile.name === selected ? "true" : null },
    el("strong", { text: profile.name }), profile.description ? ` ${profile.description}` : "");
    if (profile.problem) button.append(el("span", { class: "error", text: ` ${profile.problem}` }));
    button.addEventListener("click", () => openProfile(profile.name));
    list.append(el("li", {}, button));
  }
}

function showForm(title) {
  form.hidden = false;
  conflict.hidden = true;
  clearErrors(form);
  document.getElementById("assistant-form-title").textContent = title;
}

async function openProfile(name, status = "") {
  const reply = await request(`/api/profiles/${encodeURIComponent(name)}`, { admin: true });
  if (reply.status !== 200) {
    say("assistant-status", problem(reply));
    return;
  }
  open = { name, etag: reply.headers.get("ETag"), isNew: false };
  showForm(`Assistant ${name}`);
  nameInput.value = name;
  nameInput.readOnly = true;
  fillValues(form, names, { ...reply.body.values, description: reply.body.description });
  document.getElementById("assistant-delete").hidden = false;
  say("assistant-status", status || `Opened ${name} (version ${reply.body.version}).`);
  await listAssistants(name);
}

function newProfile() {
  open = { name: null, etag: null, isNew: true };
  showForm("New assistant");
  nameInput.value = "";
  nameInput.readOnly = false;
  fillValues(form, names, {});
  document.getElementById("assistant-delete").hidden = true;
  say("assistant-status", "");
  nameInput.focus();
}

async function save(condition) {
  const { values, problems } = readValues(form, names);
  const name = open.isNew ? nameInput.value.trim() : open.name;
  if (problems.length || !name) {
    const missing = name ? [] : [{ field: "assistant_name", message: "Give the assistant a name." }];
    showErrors(form, [...missing, ...problems], "Not saved: fix the fields marked below.");
    return;
  }
  say("assistant-status", `Saving ${name}…`);
  const headers = condition || (open.isNew ? { "If-None-Match": "*" } : { "If-Match": open.etag });
  const reply = await request(`/api/profiles/${encodeURIComponent(name)}`,
    { method: "PUT", body: values, headers, admin: true });
  clearErrors(form);
  conflict.hidden = true;
  if (reply.status === 200 || reply.status === 201) {
    await openProfile(name, `Saved ${name} (version ${reply.body.version}).`);
  } else if (reply.status === 400) {
    const errors = (reply.body.errors || []).map((e) => (e.field === "name" ? { ...e, field: "assistant_name" } : e));
    showErrors(form, errors, "Not saved: fix the fields marked below.");
    say("assistant-status", "Not saved.");
  } else if (reply.status === 412) {
    showConflict(open.isNew
      ? `An assistant named ${name} already exists: someone else created it. Nothing was saved.`
      : `Someone else changed ${name} since you opened it. Your edits are not saved yet.`);
  } else {
    say("assistant-status", problem(reply));
  }
}

function showConflict(text) {
  document.getElementById("assistant-conflict-text").textContent = text;
  conflict.hidden = false;
  say("assistant-status", "Not saved: someone else changed it.");
  document.getElementById("assistant-reload").focus();
}

// Overwrite knowingly: the version now stored is the one replaced, whoever wrote it.
async function overwrite() {
  const name = open.isNew ? nameInput.value.trim() : open.name;
  const current = await request(`/api/profiles/${encodeURIComponent(name)}`, { admin: true });
  if (current.status === 404) {
    open = { ...open, isNew: true };
    await save({ "If-None-Match": "*" });
    return;
  }
  open = { name, etag: current.headers.get("ETag"), isNew: false };
  await save({ "If-Match": open.etag });
}

async function reloadTheirs() {
  const name = open.isNew ? nameInput.value.trim() : open.name;
  await openProfile(name, `Reloaded ${name}: your edits were dropped.`);
}

function askDelete() {
  const dialog = document.getElementById("delete-dialog");
  document.getElementById("delete-text").textContent =
    `Calls that name ${open.name} will start from the default profile instead. This cannot be undone.`;
  dialog.showModal();
  document.getElementById("delete-cancel").focus();
}

async function confirmDelete() {
  document.getElementById("delete-dialog").close();
  const name = open.name;
  const reply = await request(`/api/profiles/${encodeURIComponent(name)}`,
    { method: "DELETE", headers: { "If-Match": open.etag }, admin: true });
  if (reply.status === 204) {
    open = null;
    form.hidden = true;
    say("assistant-status", "");
    await listAssistants();
    document.getElementById("assistant-new").focus();
    say("assistant-list-status", `Deleted ${name}.`);
  } else if (reply.status === 412) {
    showConflict(`Someone else changed ${name} since you opened it; it was not deleted.`);
  } else {
    say("assistant-status", problem(reply));
  }
}

document.getElementById("assistant-new").addEventListener("click", newProfile);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  save();
});
document.getElementById("assistant-reload").addEventListener("click", reloadTheirs);
document.getElementById("assistant-overwrite").addEventListener("click", () => overwrite());
document.getElementById("assistant-delete").addEventListener("click", askDelete);
document.getElementById("delete-cancel").addEventListener("click", () => document.getElementById("delete-dialog").close());
document.getElementById("delete-confirm").addEventListener("click", confirmDelete);
