"""Media storage: uploaded files kept in GridFS, photos cleaned before anyone sees them.

`MediaStore` is one store for every kind of media. A file belongs to a tenant
and an owner (``{"alarm_id": ...}`` today, a consultation room later) and is
only ever read back through that owner, so knowing a file id is not enough to
see it. Uploads are all-or-nothing: every file is checked first, and if one
write fails the ones already written are removed again.

Photos are never stored as sent. The type is read from the content (the
browser's ``Content-Type`` and file name are ignored), and the picture is
decoded and re-encoded as a plain JPEG: upright, in sRGB, at most
`MAX_SIDE` pixels long, without EXIF (GPS position, device, time), comments,
XMP or colour profiles. Decoding runs in worker threads so the event loop
keeps serving while a large photo is processed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import logging
import struct
import time
from typing import Any

import gridfs
from bson import ObjectId
from gridfs.errors import CorruptGridFile, NoFile
from PIL import Image, ImageCms, ImageOps
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

from server.errors import Invalid, NotFound, StorageFailed, TooLarge
from server.storage import object_id

log = logging.getLogger(__name__)

# What a citizen may attach to one alarm: enough to show a scene, a plate and
# a face, few enough that an officer looks at all of them on a phone.
MAX_PHOTOS = 4
# A full-resolution phone photo is 2-6 MiB; twice that leaves headroom while a
# whole alarm (4 photos) stays inside the server's request limit (52 MiB).
MAX_PHOTO_BYTES = 8 * 1024 * 1024
# 40 megapixels is above any phone camera's default mode; beyond that a small
# file that inflates to gigabytes of pixels (a decompression bomb) is refused
# before it is decoded. Pillow's own limit (about 89 MP) is higher.
MAX_PIXELS = 40_000_000
# Longest side of a stored photo: sharp on a tablet, small enough to load fast
# on an officer's mobile connection.
MAX_SIDE = 2560
# JPEG quality where artefacts are not visible in photos and files are a third
# of the size of quality 95.
JPEG_QUALITY = 85
# Formats decoded at all; other Pillow plugins never see the untrusted bytes.
# HEIF is not among them: this Pillow has no HEIF decoder, and browsers send
# JPEG when a page asks for images.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# Photos decoded at the same time by one store: a 40 MP photo needs about
# 160 MB while it is decoded, so a burst of uploads must not decode all at once.
MAX_PARALLEL_DECODES = 2

BUCKET = "media"
PHOTO_KIND = "alarm_photo"
JPEG = "image/jpeg"

# What Pillow raises for input it cannot decode (UnidentifiedImageError and
# truncated data are OSErrors).
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, struct.error)


@dataclasses.dataclass(frozen=True)
class Blob:
    """Bytes ready to store, with what is known about them."""

    data: bytes
    content_type: str
    width: int | None = None
    height: int | None = None


class MediaStore:
    """Files in the GridFS bucket ``media``, each reachable only via its owner."""

    def __init__(self, db: AsyncDatabase, config):
        self.db = db
        self.config = config
        self.bucket = gridfs.AsyncGridFSBucket(db, bucket_name=BUCKET)
        self._decoding = asyncio.Semaphore(MAX_PARALLEL_DECODES)

    # -- alarm photos ------------------------------------------------------

    async def store_photos(self, alarm: dict, files: list) -> list[dict]:
        """Clean and store an alarm's photos, all or none; describe each one."""
        if not files:
            return []
        started = time.monotonic()
        _check_photo_files(files)
        blobs = [await self._clean(number, f) for number, f in enumerate(files, 1)]
        stored = await self.put_all(
            blobs, alarm["tenant_id"], {"alarm_id": alarm["_id"]}, PHOTO_KIND
        )
        log.info(
            "stored %d photos of alarm %s: %d bytes received, %d kept, in %.2fs",
            len(stored),
            alarm["_id"],
            sum(len(f.body) for f in files),
            sum(p["bytes"] for p in stored),
            time.monotonic() - started,
        )
        return stored

    async def open_photo(self, alarm: dict, photo_id: str) -> tuple[dict, bytes]:
        """A photo of this alarm as (metadata, JPEG bytes); NotFound otherwise."""
        return await self.open(
            photo_id, alarm["tenant_id"], {"alarm_id": alarm["_id"]}, PHOTO_KIND
        )

    async def discard(self, photos: list[dict]) -> None:
        """Delete stored photos by their descriptions; ones already gone are fine."""
        await self.delete([p["id"] for p in photos])

    async def _clean(self, number: int, file) -> Blob:
        """Photo ``number`` cleaned in a worker thread; refusals name it."""
        loop = asyncio.get_running_loop()
        async with self._decoding:
            try:
                return await loop.run_in_executor(None, clean_photo, file.body)
            except (Invalid, TooLarge) as refusal:
                log.info("refused photo %d: %s", number, refusal.reason)
                message = f"Photo {number}: {refusal.message}"
                raise type(refusal)(message, refusal.reason) from None

    # -- any media ---------------------------------------------------------

    async def put_all(
        self, blobs: list[Blob], tenant_id: str, owner: dict, kind: str
    ) -> list[dict]:
        """Store every blob or, if one write fails, none; describe each in order."""
        # Ids are chosen before writing, so a write that failed halfway (chunks
        # but no file document) can be removed as well.
        ids = [ObjectId() for _ in blobs]
        attempted = 0
        try:
            for file_id, blob in zip(ids, blobs, strict=True):
                attempted += 1
                name = f"{kind}-{attempted}{_extension(blob.content_type)}"
                await self.bucket.upload_from_stream_with_id(
                    file_id,
                    name,
                    blob.data,
                    metadata=_metadata(blob, tenant_id, owner, kind),
                )
        # Cancellation too: half an upload must not outlive its request.
        except BaseException as failure:
            await self._remove_partial(ids[:attempted])
            if _storage_refused(failure):
                log.error("could not store %s media: %r", kind, failure)
                raise StorageFailed(
                    "The file could not be stored; nothing was kept. Try again later.",
                ) from failure
            raise
        return [_describe(i, blob) for i, blob in zip(ids, blobs, strict=True)]

    async def open(
        self, file_id: str, tenant_id: str, owner: dict, kind: str
    ) -> tuple[dict, bytes]:
        """A file's (metadata, bytes) if it belongs to this owner; else NotFound."""
        query = {
            "_id": object_id(file_id),
            "metadata.tenant_id": tenant_id,
            "metadata.kind": kind,
            **{f"metadata.owner.{key}": value for key, value in owner.items()},
        }
        # The limit is in the query: AsyncGridOutCursor.to_list(1) raises
        # StopAsyncIteration when nothing matches (PyMongo 4.20).
        found = await self.bucket.find(query, limit=1).to_list()
        if found:
            try:
                return dict(found[0].metadata), await found[0].read()
            except (NoFile, CorruptGridFile):
                pass  # deleted between finding and reading it
        raise NotFound("No such file.")

    async def delete(self, file_ids: list) -> None:
        """Delete files and their chunks; unknown or malformed ids are skipped."""
        if not file_ids:
            return
        removed = 0
        for file_id in file_ids:
            if isinstance(file_id, str):
                if not ObjectId.is_valid(file_id):
                    continue
                file_id = ObjectId(file_id)
            try:
                await self.bucket.delete(file_id)
                removed += 1
            except NoFile:
                pass  # already gone: its chunks, if any, were removed anyway
        log.info("deleted %d of %d media files", removed, len(file_ids))

    async def _remove_partial(self, ids: list[ObjectId]) -> None:
        try:
            await self.delete(ids)
        except Exception:
            # The upload's own error is what the caller needs to see.
            log.exception(
                "could not remove %d media files of a failed upload", len(ids)
            )
        else:
            log.warning("upload failed: removed its %d media files", len(ids))


def _storage_refused(failure: BaseException) -> bool:
    """True for a write the storage refused (disk full, quota, I/O error).

    An unreachable database is not one: it is answered as the outage it is
    (503, reason ``database``) by the handlers.
    """
    if isinstance(failure, ConnectionFailure):
        return False
    return isinstance(failure, PyMongoError | OSError)


def _check_photo_files(files: list) -> None:
    """Refuse by count and size before anything is decoded."""
    if len(files) > MAX_PHOTOS:
        raise Invalid(f"Attach at most {MAX_PHOTOS} photos.", "too_many_photos")
    limit_mib = MAX_PHOTO_BYTES // (1024 * 1024)
    for number, file in enumerate(files, 1):
        if len(file.body) > MAX_PHOTO_BYTES:
            log.info("refused photo %d: %d bytes", number, len(file.body))
            raise TooLarge(
                f"Photo {number} is larger than {limit_mib} MB.", "photo_too_large"
            )


def clean_photo(body: bytes) -> Blob:
    """Decode an untrusted image and re-encode it as a bare JPEG, or refuse it.

    Blocking and CPU-bound: call it in a worker thread.
    """
    try:
        # verify() checks the whole file (PNG checksums) but leaves the image
        # unusable, so it is opened a second time for decoding.
        with Image.open(io.BytesIO(body), formats=ACCEPTED_FORMATS) as probe:
            _check_pixels(probe.size)
            probe.verify()
        with Image.open(io.BytesIO(body), formats=ACCEPTED_FORMATS) as image:
            # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that is still
            # at least MAX_SIDE, which saves most of the memory and time.
            image.draft(None, (MAX_SIDE, MAX_SIDE))
            image.load()
            _make_upright(image)
            picture = _to_srgb(image)
    # Pillow's own bomb checks: a warning turns into an exception where
    # warnings are errors (the tests); otherwise _check_pixels refuses.
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except _UNREADABLE:
        raise Invalid(
            "This is not a JPEG, PNG or WebP image.", "not_an_image"
        ) from None
    picture.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return _encode_bare(picture)


def _check_pixels(size: tuple[int, int]) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise _too_many_pixels()


def _too_many_pixels() -> TooLarge:
    megapixels = MAX_PIXELS // 1_000_000
    return TooLarge(
        f"The picture has more than {megapixels} megapixels.", "photo_too_large"
    )


def _make_upright(image: Image.Image) -> None:
    """Turn the pixels the way the EXIF orientation says, so none is sideways."""
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except (*_UNREADABLE, KeyError, TypeError):
        # Unreadable EXIF: the picture itself is fine, keep it as stored.
        log.info("ignored the unreadable orientation of a photo")


def _to_srgb(image: Image.Image) -> Image.Image:
    """The picture in RGB; colours mapped from its embedded profile to sRGB.

    Phones shoot in wide-gamut profiles (Display P3); without converting, the
    colours would look washed out once the profile is dropped. Transparent
    parts are laid on white.
    """
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            return ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            log.info("ignored the unusable colour profile of a photo")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _encode_bare(picture: Image.Image) -> Blob:
    """JPEG bytes of the pixels alone.

    The pixels are copied into a new image, which carries no ``info``: Pillow
    would otherwise write some of the source's metadata (its JPEG comment)
    into the new file.
    """
    bare = Image.new("RGB", picture.size)
    bare.paste(picture)
    out = io.BytesIO()
    bare.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return Blob(out.getvalue(), JPEG, bare.width, bare.height)


def _metadata(blob: Blob, tenant_id: str, owner: dict, kind: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "owner": owner,
        "kind": kind,
        "content_type": blob.content_type,
        "width": blob.width,
        "height": blob.height,
        "sha256": hashlib.sha256(blob.data).hexdigest(),
    }


def _describe(file_id: ObjectId, blob: Blob) -> dict:
    return {
        "id": str(file_id),
        "content_type": blob.content_type,
        "width": blob.width,
        "height": blob.height,
        "bytes": len(blob.data),
    }


def _extension(content_type: str) -> str:
    # The stored name is made up: a citizen's file name can carry a name or a
    # date, and nobody needs it.
    return {JPEG: ".jpg"}.get(content_type, "")


# -- room attachments ------------------------------------------------------
# Consultation rooms (server.rooms) accept more than photos. The type is read
# from the first bytes; the name and the browser's Content-Type are ignored.

# Per kind, the largest upload accepted. A phone photo or a PDF report fits in
# 10-20 MiB; a minute of phone video is about 40 MiB. The server's request
# limit (max_body_bytes, 52 MiB by default) leaves room for the largest.
ROOM_LIMITS = {
    "image": 10 * 1024 * 1024,
    "audio": 20 * 1024 * 1024,
    "video": 50 * 1024 * 1024,
    "file": 20 * 1024 * 1024,
}
# Per kind of clip, the longest accepted (seconds), where the container says
# how long it plays (server.clips): a room's members listen or watch on
# phones, in the middle of an incident. A clip whose container does not say
# (an MP4 recorded in fragments) is bounded by its size alone.
ROOM_MAX_SECONDS = {"audio": 10 * 60, "video": 3 * 60}
# Longest side of an image's thumbnail: a chat bubble on a phone.
THUMBNAIL_SIDE = 320
ROOM_MEDIA_KIND = "room_media"
ROOM_THUMBNAIL_KIND = "room_thumbnail"


def sniff(body: bytes, wanted: str | None = None) -> tuple[str, str]:
    """The (kind, content type) of an attachment, read from its content.

    ``wanted`` (``audio`` or ``video``) only settles containers that hold
    either (WebM, MP4); it never makes other bytes acceptable. Anything not
    recognised is refused as ``unsupported_type``.
    """
    head = body[:16]
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    ):
        return "image", "image/*"  # clean_photo decides and re-encodes
    if head[:4] == b"OggS":
        return "audio", "audio/ogg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio", "audio/wav"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] >= 0xE0):
        return "audio", "audio/mpeg"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        kind = "audio" if wanted == "audio" else "video"
        return kind, f"{kind}/webm"
    if head[4:8] == b"ftyp":
        audio = wanted == "audio" or head[8:12] in (b"M4A ", b"M4B ")
        return ("audio", "audio/mp4") if audio else ("video", "video/mp4")
    if head[:5] == b"%PDF-":
        return "file", "application/pdf"
    if _plain_text(body):
        return "file", "text/plain; charset=utf-8"
    raise Invalid(
        "This type of file is not accepted: send a photo, an audio or video "
        "clip, a PDF or plain text.",
        "unsupported_type",
    )


def _plain_text(body: bytes) -> bool:
    if not body or b"\x00" in body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def make_thumbnail(jpeg: bytes) -> Blob:
    """A small JPEG of an already cleaned photo. Blocking: use a worker thread."""
    with Image.open(io.BytesIO(jpeg), formats=("JPEG",)) as image:
        image.draft("RGB", (THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        image.load()
        small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return _encode_bare(small)


async def clean_image(store: MediaStore, body: bytes) -> tuple[Blob, Blob]:
    """A photo re-encoded without metadata, and its thumbnail (worker threads)."""
    loop = asyncio.get_running_loop()
    async with store._decoding:
        cleaned = await loop.run_in_executor(None, clean_photo, body)
        small = await loop.run_in_executor(None, make_thumbnail, cleaned.data)
    return cleaned, small
