// A settings form generated from the server's JSON Schema: one input per property, named by the
// setting's snake_case name, grouped as an app's settings screen would group them, with the
// unit, range and default beside each; the server's errors shown next to their fields.

import { el } from "./api.js";

export const GROUPS = [
  ["Turn-taking", ["turn_detection", "endpointing_ms", "utterance_end_ms", "min_endpointing_delay",
    "max_endpointing_delay", "endpointing_mode", "preemptive_generation", "user_away_timeout"]],
  ["Interruptions", ["allow_interruptions", "min_interruption_duration", "min_interruption_words",
    "false_interruption_timeout", "resume_false_interruption"]],
  ["Prompt and greeting", ["description", "instructions", "greeting", "profile", "assistant_id"]],
  ["Models and voice", ["stt_model", "stt_language", "llm_model", "tts_model", "tts_voice"]],
];
const UNITS = { ms: "ms", s: "seconds", words: "words" };
const LONG_TEXT = 1000;

// How a property is edited: number, choice (enum or boolean) or text, and whether "off" is a value.
function kindOf(property) {
  const options = property.anyOf || [property];
  // "off" is a value only where the schema says so; a null name (profile) is just left empty.
  const nullable = options.some((o) => o.const === "off");
  const main = options.find((o) => o.type !== "null" && o.const === undefined) || property;
  if (main.enum) return { kind: "choice", choices: main.enum, nullable, main };
  if (main.type === "boolean") return { kind: "choice", choices: [true, false], nullable, main };
  if (main.type === "integer" || main.type === "number") return { kind: "number", nullable, main };
  return { kind: main.maxLength >= LONG_TEXT ? "long-text" : "text", nullable, main };
}

function shown(value) {
  if (value === null || value === undefined) return "off";
  if (value === true) return "on";
  if (value === false) return "off";
  return String(value);
}

function rangeText(property, kind) {
  const unit = property.unit ? ` ${UNITS[property.unit] || property.unit}` : "";
  const parts = [];
  if (kind.kind === "number") parts.push(`${kind.main.minimum} to ${kind.main.maximum}${unit}`);
  if (kind.kind === "choice" && kind.main.enum) parts.push(`one of ${kind.main.enum.join(", ")}`);
  if (kind.main.maxLength) parts.push(`up to ${kind.main.maxLength} characters`);
  if (kind.nullable) parts.push("or off");
  if (property.default !== undefined && typeof property.default !== "string") {
    parts.push(`default ${shown(property.default)}`);
  }
  if (property.applies === "live") parts.push("applies live");
  if (property.set_by === "operator") parts.push("operator only");
  return parts.join("; ");
}

function input(formId, name, property, kind) {
  const id = `${formId}-${name}`;
  const described = `${id}-help ${id}-error`;
  if (kind.kind === "choice") {
    const select = el("select", { id, name, "aria-describedby": described },
      el("option", { value: "", text: "(not set)" }));
    for (const choice of kind.choices) {
      select.append(el("option", { value: String(choice), text: shown(choice) }));
    }
    return select;
  }
  if (kind.kind === "number") {
    const step = kind.main.type === "integer" ? "1" : "any";
    return el("input", { id, name, type: "number", inputmode: "decimal", step,
      min: kind.main.minimum, max: kind.main.maximum, "aria-describedby": described });
  }
  if (kind.kind === "long-text") {
    return el("textarea", { id, name, rows: "4", "aria-describedby": described });
  }
  return el("input", { id, name, type: "text", autocomplete: "off", spellcheck: "false",
    "aria-describedby": described });
}

function field(formId, name, property) {
  const kind = kindOf(property);
  const id = `${formId}-${name}`;
  const unit = property.unit ? ` (${UNITS[property.unit] || property.unit})` : "";
  const box = el("div", { class: "field", "data-field": name, "data-kind": kind.kind },
    el("label", { for: id }, el("code", { text: name }), unit));
  const control = input(formId, name, property, kind);
  if (kind.nullable) {
    const off = el("input", { type: "checkbox", id: `${id}-off`, "data-off-for": name });
    const row = el("div", { class: "with-off" }, control,
      el("label", { class: "off", for: `${id}-off` }, off, ` ${name} off`));
    off.addEventListener("change", () => { control.disabled = off.checked; });
    box.append(row);
  } else {
    box.append(control);
  }
  box.append(
    el("p", { id: `${id}-help`, class: "hint", text: [rangeText(property, kind),
      property.description].filter(Boolean).join(". ") }),
    el("p", { id: `${id}-error`, class: "error", hidden: true }));
  return box;
}

// Fill `container` with the schema's fields, in groups; fields no group names go last.
export function buildFields(container, schema, formId) {
  container.replaceChildren();
  const properties = schema.properties || {};
  const placed = new Set();
  const groups = GROUPS.map(([title, names]) => [title, names.filter((n) => n in properties)]);
  groups.push(["Other", Object.keys(properties).filter((n) => !GROUPS.some(([, g]) => g.includes(n)))]);
  for (const [title, names] of groups) {
    if (!names.length) continue;
    const fieldset = el("fieldset", { class: "group" }, el("legend", { text: title }));
    for (const name of names) {
      fieldset.append(field(formId, name, properties[name]));
      placed.add(name);
    }
    container.append(fieldset);
  }
  return [...placed];
}

function controlOf(form, name) {
  return form.querySelector(`[name="${name}"]`);
}

// The values typed: {name: value} for every field not left empty; `problems` lists inputs a
// browser could not read as a number (sent to nobody: the value never reached the page).
export function readValues(form, names) {
  const values = {};
  const problems = [];
  for (const name of names) {
    const control = controlOf(form, name);
    const off = form.querySelector(`[data-off-for="${name}"]`);
    if (off && off.checked) {
      values[name] = "off";
      continue;
    }
    const kind = control.closest(".field").dataset.kind;
    if (kind === "number" && control.validity.badInput) {
      problems.push({ field: name, message: "Not a number: type digits, with a . for decimals." });
      continue;
    }
    if (control.value === "") continue;
    if (kind === "number") values[name] = Number(control.value);
    else if (control.value === "true" || control.value === "false") values[name] = control.value === "true";
    else values[name] = control.value;
  }
  return { values, problems };
}

export function fillValues(form, names, values) {
  for (const name of names) {
    const control = controlOf(form, name);
    const off = form.querySelector(`[data-off-for="${name}"]`);
    const value = values[name];
    const isOff = value === null || (typeof value === "string" && value.toLowerCase() === "off");
    if (off) {
      off.checked = isOff && name in values;
      control.disabled = off.checked;
    }
    control.value = value === undefined || isOff ? "" : String(value);
  }
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field .error")) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const general = document.getElementById(`${form.id}-errors`);
  general.hidden = true;
  general.replaceChildren();
}

// Each error beside its field (the input marked invalid); the others in the form's alert box.
export function showErrors(form, errors, summary) {
  clearErrors(form);
  const general = document.getElementById(`${form.id}-errors`);
  const unplaced = [];
  let first = null;
  for (const error of errors) {
    const box = form.querySelector(`.field[data-field="${error.field}"]`);
    if (!box) {
      unplaced.push(error);
      continue;
    }
    const message = box.querySelector(".error");
    message.hidden = false;
    message.textContent = [message.textContent, error.message].filter(Boolean).join(" ");
    const control = box.querySelector("input:not([type=checkbox]), select, textarea");
    control.setAttribute("aria-invalid", "true");
    first = first || control;
  }
  if (summary || unplaced.length) {
    general.hidden = false;
    if (summary) general.append(el("p", { text: summary }));
    for (const error of unplaced) {
      general.append(el("p", { text: error.field ? `${error.field}: ${error.message}` : error.message }));
    }
  }
  if (first) first.focus();
}
