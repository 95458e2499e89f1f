"""How long an audio or video clip plays, read from its container.

Consultation rooms (server.rooms) limit clips by duration as well as by size:
a long, heavily compressed recording fits in the size limit yet takes a room's
members an age to play over a phone connection. The duration is read from the
container's own bookkeeping, never by decoding:

- MP4, Ogg (Opus, Vorbis, FLAC, Speex), MP3 and WAV through mutagen, a pure
  Python reader: untrusted uploads are parsed by memory-safe code;
- WebM (Matroska), which mutagen does not read, by `webm_seconds` below. The
  browsers' MediaRecorder writes WebM while it records, so the file it hands
  over usually has no Duration element and segments of unknown size; the
  duration is then the time stamp of the last block.

A reader answers None when a well-formed file does not say how long it plays
(an MP4 recorded in fragments): the size limit still bounds such a clip. A file
whose container cannot be parsed at all raises `Unreadable`: it is not the
clip its first bytes claimed. Parsing is blocking: run it in a thread.
"""

from __future__ import annotations

import io
import logging
import math
import struct

import mutagen
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

log = logging.getLogger(__name__)

# mutagen's reader per content type (the type comes from media.sniff).
_READERS = {
    "audio/mp4": (MP4,),
    "video/mp4": (MP4,),
    "audio/ogg": (OggOpus, OggVorbis, OggFLAC, OggSpeex),
    "audio/mpeg": (MP3,),
    "audio/wav": (WAVE,),
}
_WEBM = ("audio/webm", "video/webm")


class Unreadable(Exception):
    """The container is damaged, or not the container its first bytes name."""


def seconds(body: bytes, content_type: str) -> float | None:
    """The clip's duration in seconds; None when the file does not say."""
    if content_type in _WEBM:
        length = webm_seconds(body)
    elif content_type in _READERS:
        length = _mutagen_seconds(body, _READERS[content_type])
    else:
        return None
    if length is None or not math.isfinite(length) or length < 0:
        return None
    return length


def _mutagen_seconds(body: bytes, readers) -> float | None:
    try:
        found = mutagen.File(io.BytesIO(body), options=readers)
    except (mutagen.MutagenError, struct.error, ValueError, IndexError) as error:
        log.debug("clip unreadable: %s", type(error).__name__)
        raise Unreadable(type(error).__name__) from error
    if found is None:
        raise Unreadable("no reader recognised the file")
    info = getattr(found, "info", None)
    length = getattr(info, "length", None)
    # mutagen reports 0 when the container does not say (an MP4 written in
    # fragments, say): unknown rather than a zero-second clip.
    return float(length) if length else None


# -- WebM ------------------------------------------------------------------------

_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TIMESTAMP_SCALE = 0x2AD7B1
_DURATION = 0x4489
_CLUSTER = 0x1F43B675
_CLUSTER_TIMESTAMP = 0xE7
_SIMPLE_BLOCK = 0xA3
_BLOCK_GROUP = 0xA0
_BLOCK = 0xA1
_BLOCK_DURATION = 0x9B
# Elements that can only sit directly in a Segment: one of them ends a
# Cluster whose size is unknown (a live recording's).
_SEGMENT_CHILDREN = {
    0x114D9B74,  # SeekHead
    _INFO,
    0x1654AE6B,  # Tracks
    _CLUSTER,
    0x1C53BB6B,  # Cues
    0x1941A469,  # Attachments
    0x1043A770,  # Chapters
    0x1254C367,  # Tags
}
_DEFAULT_SCALE_NS = 1_000_000  # Matroska's default: time stamps in ms


class _Malformed(Exception):
    pass


def _element_id(data: bytes, pos: int) -> tuple[int, int]:
    """An element ID (marker bit kept, as the specification writes them)."""
    first = data[pos]
    width = 8 - first.bit_length() + 1
    if first == 0 or width > 4:
        raise _Malformed("bad element id")
    return int.from_bytes(data[pos : pos + width], "big"), pos + width


def _size(data: bytes, pos: int) -> tuple[int | None, int]:
    """An element's data size; None for "unknown" (all value bits set)."""
    first = data[pos]
    if first == 0:
        raise _Malformed("bad size")
    width = 8 - first.bit_length() + 1
    value = first & (0xFF >> width)
    for byte in data[pos + 1 : pos + width]:
        value = (value << 8) | byte
    if pos + width > len(data):
        raise _Malformed("truncated size")
    unknown = value == (1 << (7 * width)) - 1
    return (None if unknown else value), pos + width


def _header(data: bytes, pos: int, end: int):
    """(id, data start, data end or None when unknown) of the element at pos."""
    element, pos = _element_id(data, pos)
    size, pos = _size(data, pos)
    if size is not None and pos + size > end:
        # A recording cut short (the browser tab closed) ends mid-element:
        # read what is there.
        size = end - pos
    return element, pos, None if size is None else pos + size


def _uint(data: bytes, start: int, stop: int) -> int:
    return int.from_bytes(data[start:stop], "big")


def _block_time(data: bytes, start: int) -> int:
    """A Block's time stamp relative to its cluster (after the track number)."""
    _, pos = _size(data, start)  # the track number is coded like a size
    return struct.unpack_from(">h", data, pos)[0]


def webm_seconds(body: bytes) -> float | None:
    """A WebM file's duration: its Duration element, else its last block."""
    try:
        return _webm_seconds(body)
    except (_Malformed, IndexError, struct.error) as error:
        raise Unreadable(f"malformed WebM ({error})") from error


def _webm_seconds(data: bytes) -> float | None:
    end = len(data)
    element, _, pos = _header(data, 0, end)
    if element != 0x1A45DFA3 or pos is None:  # the EBML header
        raise _Malformed("no EBML header")
    element, pos, segment_end = _header(data, pos, end)
    if element != _SEGMENT:
        raise _Malformed("no Segment")
    segment_end = end if segment_end is None else segment_end
    scale = _DEFAULT_SCALE_NS
    last = None  # the latest block end seen, in scale units
    while pos < segment_end:
        element, start, stop = _header(data, pos, segment_end)
        if element == _INFO:
            stop = segment_end if stop is None else stop
            scale, duration = _info(data, start, stop)
            if duration is not None:
                return duration * scale / 1e9
        elif element == _CLUSTER:
            stop, latest = _cluster(data, start, stop, segment_end)
            if latest is not None:
                last = latest if last is None else max(last, latest)
        elif stop is None:
            raise _Malformed("only a Cluster may have an unknown size")
        pos = stop
    return None if last is None else last * scale / 1e9


def _info(data: bytes, pos: int, end: int) -> tuple[int, float | None]:
    scale, duration = _DEFAULT_SCALE_NS, None
    while pos < end:
        element, start, stop = _header(data, pos, end)
        if stop is None:
            raise _Malformed("unknown size inside Info")
        if element == _TIMESTAMP_SCALE and stop > start:
            scale = _uint(data, start, stop) or _DEFAULT_SCALE_NS
        elif element == _DURATION and stop - start in (4, 8):
            fmt = ">f" if stop - start == 4 else ">d"
            duration = struct.unpack_from(fmt, data, start)[0]
            if duration <= 0 or not math.isfinite(duration):
                duration = None
        pos = stop
    return scale, duration


def _cluster(data: bytes, pos: int, end, segment_end: int):
    """(where the cluster ends, its latest block end in scale units or None)."""
    bounded = end is not None
    end = end if bounded else segment_end
    base, latest = 0, None
    while pos < end:
        element, start, stop = _header(data, pos, end)
        if not bounded and element in _SEGMENT_CHILDREN:
            return pos, latest  # the next cluster (or the cues) begins
        if stop is None:
            raise _Malformed("unknown size inside a Cluster")
        if element == _CLUSTER_TIMESTAMP:
            base = _uint(data, start, stop)
        elif element == _SIMPLE_BLOCK:
            at = base + _block_time(data, start)
            latest = at if latest is None else max(latest, at)
        elif element == _BLOCK_GROUP:
            at = _block_group(data, start, stop, base)
            if at is not None:
                latest = at if latest is None else max(latest, at)
        pos = stop
    return end, latest


def _block_group(data: bytes, pos: int, end: int, base: int) -> int | None:
    at, duration = None, 0
    while pos < end:
        element, start, stop = _header(data, pos, end)
        if stop is None:
            raise _Malformed("unknown size inside a BlockGroup")
        if element == _BLOCK:
            at = base + _block_time(data, start)
        elif element == _BLOCK_DURATION:
            duration = _uint(data, start, stop)
        pos = stop
    return None if at is None else at + duration
