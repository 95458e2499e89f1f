"""Real audio and video clips for the tests, encoded with FFmpeg (PyAV).

The files come from the same encoders and muxers phones and browsers use
(Opus, AAC, MP3, VP8, H.264 in WebM, Ogg and MP4), so the duration readers in
server/clips.py are tested on real containers rather than on hand-made bytes.
PyAV is a test dependency only: the server never runs FFmpeg on uploads.
"""

from __future__ import annotations

import io
import math
import wave
from fractions import Fraction

import av
import numpy as np

RATE = 48000


def _tone(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16)


def audio(container: str, codec: str, seconds: float, **options) -> bytes:
    """``seconds`` of a 440 Hz tone, encoded with ``codec`` in ``container``."""
    rate = 44100 if codec == "libmp3lame" else RATE
    out = io.BytesIO()
    with av.open(out, "w", format=container, options=options) as file:
        stream = file.add_stream(codec, rate=rate, layout="mono")
        samples = _tone(seconds, rate)
        step = 960
        for at in range(0, len(samples), step):
            chunk = samples[at : at + step].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = at
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                file.mux(packet)
        for packet in stream.encode(None):
            file.mux(packet)
    return out.getvalue()


def video(container: str, codec: str, seconds: float, **options) -> bytes:
    """``seconds`` of 64x48 frames at 10 frames a second."""
    out = io.BytesIO()
    fps = 10
    with av.open(out, "w", format=container, options=options) as file:
        stream = file.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for number in range(int(seconds * fps)):
            pixels = np.full((48, 64, 3), number * 3 % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = number
            for packet in stream.encode(frame):
                file.mux(packet)
        for packet in stream.encode(None):
            file.mux(packet)
    return out.getvalue()


def wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(_tone(seconds, RATE).tobytes())
    return out.getvalue()
