"""Write the officer's offer alert into pwa/static/sounds/offer-alert.wav.

A short rising chime, made from sine tones so that the repository carries no
recorded audio of unknown origin. Run again after changing the tune
(``.venv/bin/python scripts/make_alert_sound.py``); the WAV is committed.
"""

from __future__ import annotations

import logging
import math
import struct
import wave
from pathlib import Path

log = logging.getLogger(__name__)

OUT = Path(__file__).resolve().parent.parent / "pwa" / "static" / "sounds"
NAME = "offer-alert.wav"
# 22.05 kHz carries tones up to 11 kHz, far above the chime's, at half the
# size of CD rate.
RATE = 22050
# (frequency in Hz, seconds); 0 Hz is a rest. Two rising pairs: A5 to E6 is a
# fifth, bright enough to cut through traffic noise without sounding like a siren.
TUNE = [(880, 0.14), (1319, 0.22), (0, 0.08), (880, 0.14), (1319, 0.34)]
# Of full scale: loud on a phone speaker, with headroom for the overtone.
VOLUME = 0.7
# A 10 ms fade at each end of a tone keeps the speaker from clicking.
FADE_S = 0.01
# A little of the octave above makes the tone carry on small speakers.
OVERTONE = 0.25


def tone(frequency: float, seconds: float) -> list[float]:
    """Samples in -1..1 of one faded tone (silence for frequency 0)."""
    count = int(RATE * seconds)
    fade = int(RATE * FADE_S)
    samples = []
    for n in range(count):
        if frequency == 0:
            samples.append(0.0)
            continue
        phase = 2 * math.pi * frequency * n / RATE
        value = (math.sin(phase) + OVERTONE * math.sin(2 * phase)) / (1 + OVERTONE)
        envelope = min(1.0, n / fade, (count - 1 - n) / fade)
        samples.append(value * envelope)
    return samples


def render() -> bytes:
    """The whole tune as 16-bit little-endian mono PCM."""
    samples = [s for frequency, seconds in TUNE for s in tone(frequency, seconds)]
    peak = 32767 * VOLUME
    return b"".join(struct.pack("<h", round(s * peak)) for s in samples)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / NAME
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(render())
    log.info("wrote %s (%d bytes)", path, path.stat().st_size)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
