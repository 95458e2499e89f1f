"""Clip durations read from real containers (server/clips.py)."""

from __future__ import annotations

import pytest

from server import clips
from server.media import sniff
from tests import clips as make

SECONDS = 7.0


@pytest.mark.parametrize(
    ("name", "encode", "wanted"),
    [
        ("Opus in WebM", lambda: make.audio("webm", "libopus", SECONDS), "audio"),
        ("Opus in Ogg", lambda: make.audio("ogg", "libopus", SECONDS), "audio"),
        ("AAC in MP4", lambda: make.audio("mp4", "aac", SECONDS), "audio"),
        ("MP3", lambda: make.audio("mp3", "libmp3lame", SECONDS), "audio"),
        ("WAV", lambda: make.wav(SECONDS), "audio"),
        ("VP8 in WebM", lambda: make.video("webm", "libvpx", SECONDS), "video"),
        ("H.264 in MP4", lambda: make.video("mp4", "libx264", SECONDS), "video"),
    ],
)
def test_the_duration_is_read_from_each_container(name, encode, wanted):
    body = encode()
    kind, content_type = sniff(body, wanted)
    assert kind == wanted, name
    assert clips.seconds(body, content_type) == pytest.approx(SECONDS, abs=0.1)


@pytest.mark.parametrize("encode", ["audio", "video"])
def test_a_live_webm_recording_is_timed_by_its_last_block(encode):
    # What MediaRecorder hands over: no Duration, segment and clusters of
    # unknown size.
    if encode == "audio":
        body = make.audio("webm", "libopus", SECONDS, live="1")
    else:
        body = make.video("webm", "libvpx", SECONDS, live="1")
    assert _webm_duration_element(body) is None
    # The last block starts a frame before the end (100 ms at 10 frames/s).
    assert clips.webm_seconds(body) == pytest.approx(SECONDS, abs=0.12)
    # Cut short, as when the tab closed mid-upload: what is there still counts.
    shorter = clips.webm_seconds(body[: len(body) // 2])
    assert shorter is not None and 0 < shorter < SECONDS


def test_an_mp4_written_in_fragments_has_no_readable_duration():
    body = make.video("mp4", "libx264", SECONDS, movflags="frag_keyframe+empty_moov")
    assert clips.seconds(body, "video/mp4") is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"OggS" + b"\x00" * 200, "audio/ogg"),
        (b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 64, "video/mp4"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 64, "video/webm"),
        (b"\x1a\x45\xdf\xa3\x80\x18\x53\x80\x67\x01\xff", "audio/webm"),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", "audio/wav"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 64, "audio/mpeg"),
    ],
)
def test_a_damaged_or_disguised_clip_is_unreadable(body, content_type):
    with pytest.raises(clips.Unreadable):
        clips.seconds(body, content_type)


def _webm_duration_element(body: bytes):
    """The Info element's Duration, or None: read with the module's parser."""
    end = len(body)
    _, _, pos = clips._header(body, 0, end)
    _, pos, segment_end = clips._header(body, pos, end)
    segment_end = segment_end or end
    while pos < segment_end:
        element, start, stop = clips._header(body, pos, segment_end)
        if element == clips._INFO:
            return clips._info(body, start, stop)[1]
        pos = stop
    raise AssertionError("no Info element")
