// The settings page: what this server offers (GET /api/page), the admin secret, the panels.

import { adminSecret, request, say, setAdminSecret } from "./api.js";
import { initAssistants } from "./assistants.js";
import { initCall } from "./call.js";
import { initCaller } from "./caller.js";
import { initSimulate } from "./simulate.js";

async function main() {
  const reply = await request("/api/page");
  const info = reply.body;
  const secretInput = document.getElementById("admin-secret");
  const secretStatus = () => say("secret-status", adminSecret()
    ? "Admin secret set for this tab." : "No admin secret yet: assistants and simulations need it.");
  secretInput.value = adminSecret();
  secretStatus();
  document.getElementById("secret-form").addEventListener("submit", (event) => {
    event.preventDefault();
    setAdminSecret(secretInput.value.trim());
    secretStatus();
    initAssistants(info);
  });
  document.getElementById("secret-forget").addEventListener("click", () => {
    setAdminSecret("");
    secretInput.value = "";
    secretStatus();
  });
  initCall(info);
  initSimulate(info);
  await Promise.all([initCaller(), adminSecret() || !info.admin ? initAssistants(info) : null]);
  document.body.dataset.ready = "true";
}

main();
