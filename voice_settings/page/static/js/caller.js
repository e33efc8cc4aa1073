// The caller's settings panel: the participant-settings form (from /api/schema/participant),
// checked by the server with the agent's rules, and the metadata JSON an app puts in the token.

import { problem, request, say } from "./api.js";
import { buildFields, clearErrors, readValues, showErrors } from "./form.js";

const form = document.getElementById("caller-form");
const preview = document.getElementById("caller-metadata");
let names = [];

export function callerValues() {
  return readValues(form, names).values;
}

export async function initCaller() {
  const schema = await request("/api/schema/participant");
  if (schema.status !== 200) {
    say("caller-status", problem(schema));
    return;
  }
  names = buildFields(document.getElementById("caller-fields"), schema.body, "caller-form");
  form.addEventListener("input", showPreview);
  form.addEventListener("change", showPreview);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    checkCaller();
  });
  showPreview();
}

function showPreview() {
  preview.textContent = JSON.stringify(callerValues(), null, 2);
}

// The server's verdict: true when the settings are valid.
export async function checkCaller() {
  const { values, problems } = readValues(form, names);
  if (problems.length) {
    showErrors(form, problems, "Fix the fields marked below.");
    return false;
  }
  const reply = await request("/api/settings/validate", { method: "POST", body: values });
  if (reply.status === 200) {
    clearErrors(form);
    preview.textContent = reply.body.metadata ? JSON.stringify(JSON.parse(reply.body.metadata), null, 2) : "{}";
    say("caller-status", "Valid: the agent would accept these settings.");
    return true;
  }
  if (reply.status === 400 && reply.body.errors) {
    showErrors(form, reply.body.errors, "The agent would refuse these settings:");
    say("caller-status", "Invalid: see the fields marked.");
  } else {
    say("caller-status", problem(reply));
  }
  return false;
}
