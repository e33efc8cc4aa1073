// The Simulate panel: POST /api/lab/runs for the chosen settings, progress while it runs, then
// first audio, cut-ins, each turn's end-of-turn rule, the timeline picture and the recording.

import { el, problem, request, say } from "./api.js";
import { assistantValues } from "./assistants.js";
import { callerValues } from "./caller.js";

const POLL_MS = 1000;
// What each end-of-turn rule (runtime/end_of_turn.py) means for the caller.
const RULES = {
  vad: "silence only (VAD)",
  stt: "the STT's end of speech",
  model_done: "the model judged the turn done: min delay",
  model_unfinished: "the model judged it unfinished: max delay",
  no_verdict: "no verdict recorded",
};
const results = document.getElementById("sim-results");

export function initSimulate(info) {
  const off = document.getElementById("simulate-off");
  if (!info.admin) {
    off.hidden = false;
    off.textContent = "Simulations need the admin secret: restart serve with PROFILES_ADMIN_SECRET set.";
    document.getElementById("sim-run").disabled = true;
  }
  fillSelect("sim-scenario", info.lab.scenarios);
  fillSelect("sim-voice", info.lab.voices);
  document.getElementById("simulate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    simulate();
  });
}

function fillSelect(id, choices) {
  const select = document.getElementById(id);
  select.replaceChildren(...choices.map((c) => el("option", { value: c, text: c })));
}

// [[title, request body], ...] for the chosen source, or a sentence saying what is missing.
function plannedRuns() {
  const source = document.getElementById("sim-source").value;
  if (source === "caller") {
    const { profile, ...settings } = callerValues();
    return [["The caller's settings", { settings, ...(profile ? { profile } : {}) }]];
  }
  const assistant = assistantValues();
  if (!assistant) return "Open or create an assistant first, or choose the caller's settings.";
  const title = assistant.name || "New assistant";
  const edited = [`${title}, as edited`, { settings: assistant.values }];
  if (source === "compare") {
    if (!assistant.name) return "A new assistant has no saved version to compare with: save it first.";
    return [[`${title}, as saved`, { profile: assistant.name }], edited];
  }
  return [edited];
}

async function simulate() {
  const planned = plannedRuns();
  if (typeof planned === "string") {
    say("sim-status", planned);
    return;
  }
  const scenario = document.getElementById("sim-scenario").value;
  const voice = document.getElementById("sim-voice").value;
  results.replaceChildren();
  const button = document.getElementById("sim-run");
  button.disabled = true;
  say("sim-status", planned.length > 1 ? "Simulating both, one after the other…" : "Simulating…");
  try {
    const cards = planned.map(([title]) => card(title));
    results.append(...cards.map((c) => c.node));
    const started = [];
    for (const [index, [, body]] of planned.entries()) {
      const reply = await request("/api/lab/runs", { method: "POST", admin: true,
        body: { ...body, scenario, voice } });
      if (reply.status !== 202) {
        cards[index].fail(reply.status === 400 && reply.body.errors
          ? reply.body.errors.map((e) => `${e.field}: ${e.message}`).join(" ")
          : problem(reply));
        continue;
      }
      started.push(follow(reply.headers.get("Location"), cards[index]));
    }
    await Promise.all(started);
    say("sim-status", "Simulation finished.");
  } finally {
    button.disabled = false;
  }
}

async function follow(location, view) {
  for (;;) {
    const reply = await request(location, { admin: true });
    if (reply.status !== 200) {
      view.fail(problem(reply));
      return;
    }
    const run = reply.body;
    if (run.status === "done") {
      view.done(run.result);
      return;
    }
    if (run.status === "failed") {
      view.fail(run.error || "The simulation failed.");
      return;
    }
    view.progress(run);
    await new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  }
}

function seconds(ms) {
  return ms === null || ms === undefined ? "–" : `${(ms / 1000).toFixed(2)} s`;
}

function card(title) {
  const heading = el("h3", { text: title });
  const bar = el("progress", { max: "1", "aria-label": `Progress of ${title}` });
  const state = el("p", { class: "hint", role: "status", text: "Queued" });
  const body = el("div");
  const node = el("article", { class: "result" }, heading, bar, state, body);
  return {
    node,
    progress(run) {
      const p = run.progress || {};
      state.textContent = run.status === "queued" ? "Queued behind another simulation"
        : `Running: session ${Math.min((p.sessions_done || 0) + 1, p.sessions_total || 1)} of ${p.sessions_total || 1}, ${Math.round(p.elapsed_s || 0)} s${p.expected_s ? ` of about ${Math.round(p.expected_s)} s` : ""}`;
      if (run.status === "running" && p.expected_s) bar.value = Math.min(p.elapsed_s / p.expected_s, 0.99);
      else if (run.status === "running" && p.sessions_done) bar.value = p.sessions_done / p.sessions_total;
    },
    fail(message) {
      bar.remove();
      state.textContent = "";
      body.replaceChildren(el("p", { class: "error", role: "alert", text: message }));
    },
    done(result) {
      bar.remove();
      state.textContent = `${result.scenario} spoken by ${result.voice}`;
      body.replaceChildren(...resultView(title, result));
    },
  };
}

function figures(result) {
  const pauses = Object.values(result.cut_ins_by_pause || {}).reduce((n, p) => n + p.pauses, 0);
  const rows = [
    ["First audio (the caller hears the agent)", seconds(result.first_audio_ms)],
    ["LLM request sent", seconds(result.llm_request_ms)],
    ["Cut-ins", pauses ? `${result.cut_ins} of ${pauses} pauses` : "no mid-sentence pause in this scenario"],
  ];
  const settings = result.settings || {};
  rows.push(["Turn-taking", `${settings.turn_detection}, wait ${settings.min_endpointing_delay}–${settings.max_endpointing_delay} s, endpointing ${settings.endpointing_ms} ms`]);
  const list = el("dl", { class: "figures" });
  for (const [term, value] of rows) list.append(el("dt", { text: term }), el("dd", { text: value }));
  return list;
}

function turns(result) {
  const table = el("table", { class: "turns" },
    el("caption", { text: "Each caller turn: why it ended when it did" }));
  const head = el("tr");
  for (const h of ["Turn", "First audio", "End-of-turn rule", "Probability / threshold", "Waited"]) {
    head.append(el("th", { scope: "col", text: h }));
  }
  table.append(el("thead", {}, head));
  const rows = el("tbody");
  (result.turn_log || []).forEach((turn, index) => {
    const eot = turn.end_of_turn || {};
    const p = eot.probability === null || eot.probability === undefined ? "–"
      : `${eot.probability.toFixed(2)} / ${eot.threshold === null || eot.threshold === undefined ? "–" : eot.threshold.toFixed(2)}`;
    const row = el("tr", {}, el("th", { scope: "row", text: String(index + 1) }));
    const rule = eot.rule ? `${eot.rule}: ${RULES[eot.rule] || "?"}` : "–";
    for (const cell of [seconds(turn.first_audio_ms), rule, p, seconds(eot.waited_ms)]) {
      row.append(el("td", { text: cell }));
    }
    rows.append(row);
  });
  table.append(rows);
  return table;
}

function resultView(title, result) {
  // A narrow screen scrolls the table, not the page.
  const parts = [figures(result), el("div", { class: "table-wrap" }, turns(result))];
  if (result.timeline) {
    parts.push(el("img", { class: "timeline", src: result.timeline,
      alt: `Timeline of ${title}: when the caller and the agent spoke, and where each turn was decided` }));
  } else {
    parts.push(el("p", { class: "hint", text: "No timeline picture: the server draws it with " +
      "matplotlib, which it does not have (pip install -e '.[lab]' where serve runs)." }));
  }
  if (result.recording) {
    const audio = el("audio", { controls: true, preload: "auto", src: result.recording,
      "aria-label": `Recording of ${title}: caller on the left, agent on the right` });
    parts.push(audio, el("p", {}, el("a", { href: result.recording, download: "simulation.wav",
      text: "Download the recording (WAV, caller left, agent right)" })));
  }
  return parts;
}
