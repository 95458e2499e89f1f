// The sound and vibration of a new offer. Browsers refuse to play sound until
// the user has touched the page, and iOS wants that first play inside the
// touch itself: the first tap anywhere (usually the duty toggle) plays the
// alert muted once, which unlocks it for the offers that follow.

// Repeated while an offer waits unanswered, so a phone on the passenger seat
// is noticed; three times is enough to be heard and few enough to be bearable.
const REPEATS = 3;
const REPEAT_GAP_MS = 4000;
// Long, short, long: distinct from a message notification.
const VIBRATION_MS = [400, 150, 400, 150, 400];

export class OfferAlert {
  constructor(audio) {
    this.audio = audio;
    this.unlocked = false;
    this.repeatTimer = null;
    const unlock = () => this.unlock();
    for (const type of ["pointerdown", "keydown", "touchend"]) {
      document.addEventListener(type, unlock, { once: true, capture: true });
    }
  }

  unlock() {
    if (this.unlocked || !this.audio) return;
    this.unlocked = true;
    const audio = this.audio;
    audio.muted = true;
    this.play()
      .then(() => {
        audio.pause();
        audio.currentTime = 0;
      })
      .finally(() => {
        audio.muted = false;
      });
  }

  /** Plays the alert (and repeats it) and vibrates where the device can. */
  start() {
    this.stop();
    let left = REPEATS;
    const ring = () => {
      left -= 1;
      this.play();
      if (left > 0) this.repeatTimer = setTimeout(ring, REPEAT_GAP_MS);
    };
    ring();
    vibrate(VIBRATION_MS);
  }

  stop() {
    clearTimeout(this.repeatTimer);
    this.repeatTimer = null;
    if (this.audio && !this.audio.paused) {
      this.audio.pause();
      this.audio.currentTime = 0;
    }
    vibrate(0);
  }

  /** Plays from the start; resolves either way (a refusal is expected). */
  play() {
    if (!this.audio || typeof this.audio.play !== "function") {
      return Promise.resolve();
    }
    try {
      this.audio.currentTime = 0;
      const played = this.audio.play();
      return played ? played.catch(() => {}) : Promise.resolve();
    } catch {
      return Promise.resolve();
    }
  }
}

/** Vibrates where the device can and the page may (after a first touch). */
function vibrate(pattern) {
  if (typeof navigator.vibrate !== "function") return;
  // Chrome refuses (and logs) vibration before the user has touched the page.
  const activation = navigator.userActivation;
  if (activation && !activation.hasBeenActive) return;
  try {
    navigator.vibrate(pattern);
  } catch {
    // Some WebViews throw instead of ignoring an unpermitted call.
  }
}
