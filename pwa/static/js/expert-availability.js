// The expert's own availability switch (available / busy / away), which the
// directory shows to officers and commanders.

import { errorText, getJson, postJson } from "./api.js";
import { t } from "./config.js";
import { byId, setStatus } from "./dom.js";

function show(availability) {
  for (const button of byId("availability").querySelectorAll("button")) {
    const chosen = button.dataset.availability === availability;
    button.setAttribute("aria-pressed", String(chosen));
  }
}

async function choose(availability) {
  const status = byId("availability-status");
  try {
    const answer = await postJson("/api/expert/availability", { availability });
    show(answer.availability);
    setStatus(status, t("expert.availability.saved"));
  } catch (error) {
    setStatus(status, errorText(error), "error");
  }
}

/** Shows the stored availability and saves each change. */
export async function startAvailability() {
  const group = byId("availability");
  group.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-availability]");
    if (button) choose(button.dataset.availability);
  });
  try {
    show((await getJson("/api/expert/availability")).availability);
  } catch (error) {
    setStatus(byId("availability-status"), errorText(error), "error");
  }
}
