// Telling the commander an alarm was escalated: a short two-tone chime where
// the browser can play one, a flash of the queue, an announcement for screen
// readers, and the number waiting in the tab's title.
//
// Browsers let a page make sound only after the user has interacted with it,
// so the audio context is created on the first click or key press; until then
// (and without Web Audio at all) the cue is visual only.

import { t } from "./config.js";

// Two rising tones, about half a second: noticeable without being a siren.
const TONES_HZ = [660, 880];
const TONE_S = 0.22;
const VOLUME = 0.25;
// Long enough to catch the eye from across a room, short enough to stop.
const FLASH_MS = 2400;
const MUTE_KEY = "jingdi.command.muted";

function audioContextClass() {
  return window.AudioContext || window.webkitAudioContext || null;
}

function readMuted() {
  try {
    return window.localStorage.getItem(MUTE_KEY) === "1";
  } catch {
    return false; // storage refused (private mode): sound stays on
  }
}

function storeMuted(muted) {
  try {
    window.localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
  } catch {
    // Not remembered across visits; the toggle still works for this one.
  }
}

/** The escalation cue of the command page. */
export class EscalationCue {
  /** `toggle`: the sound button; `flash`: the element that flashes; `live`: an aria-live region. */
  constructor({ toggle, flash, live }) {
    this.toggle = toggle;
    this.flash = flash;
    this.live = live;
    this.context = null;
    this.muted = readMuted();
    this.baseTitle = document.title;
    this.flashTimer = null;
    const AudioClass = audioContextClass();
    if (!AudioClass) {
      toggle.hidden = true;
      return;
    }
    toggle.hidden = false;
    this.showToggle();
    toggle.addEventListener("click", () => {
      this.muted = !this.muted;
      storeMuted(this.muted);
      this.showToggle();
    });
    const unlock = () => {
      if (!this.context) this.context = new AudioClass();
      if (this.context.state === "suspended") this.context.resume();
    };
    document.addEventListener("pointerdown", unlock, { once: true });
    document.addEventListener("keydown", unlock, { once: true });
  }

  showToggle() {
    this.toggle.setAttribute("aria-pressed", String(!this.muted));
    this.toggle.textContent = t(
      this.muted ? "command.sound.off" : "command.sound.on",
    );
  }

  /** An alarm was just escalated: `text` says which. */
  alert(text) {
    this.live.textContent = t("command.cue.escalated", { alarm: text });
    this.flash.classList.remove("cmd-flash");
    // Reading layout restarts the animation when alarms come in a row.
    void this.flash.offsetWidth;
    this.flash.classList.add("cmd-flash");
    clearTimeout(this.flashTimer);
    this.flashTimer = setTimeout(
      () => this.flash.classList.remove("cmd-flash"),
      FLASH_MS,
    );
    this.chime();
  }

  chime() {
    const context = this.context;
    if (this.muted || !context || context.state !== "running") return;
    const start = context.currentTime;
    TONES_HZ.forEach((frequency, index) => {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      const at = start + index * TONE_S;
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(VOLUME, at);
      gain.gain.exponentialRampToValueAtTime(0.001, at + TONE_S);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + TONE_S);
    });
  }

  /** Shows how many alarms wait in the tab title: "(2) 指挥室 · 警滴". */
  count(waiting) {
    document.title = waiting
      ? `(${waiting}) ${this.baseTitle}`
      : this.baseTitle;
  }
}
