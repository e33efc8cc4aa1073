// The Call panel: connection details posted as an app's TokenSource.custom would (top-level
// systemPrompt / profile, the caller's settings in the participant metadata), a livekit-client
// Room, the agent's voice.* attributes shown live, and edits sent through the server's update
// path. Without LiveKit credentials or livekit-client the button is off and says why and how.

import { el, problem, request, say } from "./api.js";
import { assistantValues } from "./assistants.js";
import { callerValues } from "./caller.js";

const ATTRIBUTES = ["voice.settings", "voice.pending", "voice.errors", "voice.timing"];
const start = document.getElementById("call-start");
const end = document.getElementById("call-end");
const send = document.getElementById("call-send");
let room = null;
let identity = null;

export function initCall(info) {
  document.getElementById("call-agent").value = info.agent || "settings-agent";
  document.getElementById("call-bearer-field").hidden = !info.connection_details_bearer;
  const problems = info.call.problems;
  const notice = document.getElementById("call-unavailable");
  if (problems.length) {
    start.disabled = true;
    start.textContent = "Call (unavailable)";
    notice.hidden = false;
    notice.replaceChildren(el("p", { text: "Calling is off on this server:" }),
      el("ul", {}, ...problems.map((p) => el("li", { text: `${p.reason}: ${p.how}.` }))));
    return;
  }
  start.disabled = false;
  start.addEventListener("click", () => call().catch((error) => {
    say("call-status", `The call failed: ${error.message}`);
    hangUp();
  }));
  end.addEventListener("click", hangUp);
  send.addEventListener("click", sendSettings);
}

// The request body an app's TokenSource.custom function would POST for this call.
function connectionRequest() {
  const caller = callerValues();
  const assistant = assistantValues();
  const body = {
    room_name: `settings-page-${crypto.randomUUID().slice(0, 8)}`,
    participant_identity: `operator-${crypto.randomUUID().slice(0, 8)}`,
    participant_name: "Settings page",
    participant_metadata: Object.keys(caller).length ? JSON.stringify(caller) : "",
    room_config: { agents: [{ agent_name: document.getElementById("call-agent").value.trim() }] },
  };
  if (assistant && assistant.name && !("profile" in caller)) body.profile = assistant.name;
  if (assistant && assistant.values.instructions && !("instructions" in caller)) {
    body.systemPrompt = assistant.values.instructions;
  }
  return body;
}

async function call() {
  const { Room, RoomEvent, TokenSource } = await import("/page/vendor/livekit-client.mjs");
  const body = connectionRequest();
  const headers = { "Content-Type": "application/json" };
  const bearer = document.getElementById("call-bearer").value;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const source = TokenSource.custom(async () => {
    const response = await fetch("/api/connection-details", { method: "POST", headers, body: JSON.stringify(body) });
    const reply = await response.json();
    if (!response.ok) {
      const details = (reply.errors || []).map((e) => `${e.field}: ${e.message}`).join(" ");
      throw new Error(`${reply.error}${details ? ` (${details})` : ""}`);
    }
    return reply;
  });
  say("call-status", "Getting connection details…");
  const details = await source.fetch({});
  identity = body.participant_identity;
  room = new Room();
  room.on(RoomEvent.ParticipantAttributesChanged, (_changed, participant) => {
    if (participant !== room.localParticipant) showAttributes(participant.attributes);
  });
  room.on(RoomEvent.TrackSubscribed, (track) => {
    if (track.kind === "audio") document.getElementById("call-audio").append(track.attach());
  });
  room.on(RoomEvent.Disconnected, () => hangUp());
  say("call-status", `Connecting to ${details.serverUrl}…`);
  await room.connect(details.serverUrl, details.participantToken);
  await room.localParticipant.setMicrophoneEnabled(true);
  start.hidden = true;
  end.hidden = false;
  send.hidden = false;
  document.getElementById("call-live").hidden = false;
  say("call-status", `In the call (room ${body.room_name}); speak to the agent.`);
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function showAttributes(attributes) {
  const list = document.getElementById("call-attributes");
  list.replaceChildren();
  for (const name of ATTRIBUTES) {
    if (!(name in attributes)) continue;
    list.append(el("dt", {}, el("code", { text: name })), el("dd", {}, el("pre", { class: "json", text: pretty(attributes[name]) })));
  }
  const timing = attributes["voice.timing"];
  if (timing) {
    const rule = (JSON.parse(timing).last_end_of_turn || {}).rule;
    if (rule) list.append(el("dt", { text: "Last end-of-turn rule" }), el("dd", { text: rule }));
  }
}

async function sendSettings() {
  const reply = await request("/api/calls/update", { method: "POST", admin: true,
    body: { room: room.name, identity, settings: callerValues() } });
  if (reply.status === 200) {
    say("call-status", `Sent. Live now: ${reply.body.live.join(", ") || "nothing"}; from the next session: ${reply.body.next_session.join(", ") || "nothing"}.`);
  } else {
    const details = (reply.body && reply.body.errors || []).map((e) => `${e.field}: ${e.message}`).join(" ");
    say("call-status", `${problem(reply)} ${details}`);
  }
}

function hangUp() {
  if (room) {
    const closing = room;
    room = null;
    closing.disconnect();
  }
  start.hidden = false;
  end.hidden = true;
  send.hidden = true;
  document.getElementById("call-audio").replaceChildren();
}
