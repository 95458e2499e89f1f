// The duty toggle (on duty, busy, off duty). A choice goes over the websocket
// when it is up and over HTTP otherwise; the buttons show what the server
// confirmed, not what was tapped.

import { errorText, postJson } from "./api.js";
import { setStatus } from "./dom.js";

export const DUTIES = ["on", "busy", "off"];

export class DutyControl {
  /** `onChange(duty)` hears every confirmed duty, also the server's own. */
  constructor({ group, socket, status, onChange }) {
    this.group = group;
    this.socket = socket;
    this.status = status;
    this.onChange = onChange;
    this.duty = null;
    group.addEventListener("click", (event) => {
      const chosen = event.target.closest("button[data-duty]");
      if (chosen) this.choose(chosen.dataset.duty);
    });
  }

  /** Shows `duty` as the current one (from the server). */
  show(duty) {
    if (!DUTIES.includes(duty)) return;
    for (const button of this.group.querySelectorAll("button[data-duty]")) {
      button.setAttribute("aria-pressed", String(button.dataset.duty === duty));
    }
    const changed = duty !== this.duty;
    this.duty = duty;
    if (changed) this.onChange(duty);
  }

  async choose(duty) {
    const buttons = this.group.querySelectorAll("button[data-duty]");
    for (const button of buttons) button.disabled = true;
    setStatus(this.status, "");
    try {
      this.show(await this.send(duty));
    } catch (error) {
      setStatus(this.status, errorText(error), "error");
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  }

  async send(duty) {
    try {
      const answer = await this.socket.ask({ type: "duty", duty });
      return answer.duty;
    } catch (error) {
      if (error.status !== 0) throw error; // refused: HTTP would refuse too
    }
    const answer = await postJson("/api/officer/duty", { duty });
    return answer.duty;
  }
}
