"""Media store: alarm photos are checked, cleaned, stored whole or not at all."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest
from bson import ObjectId
from PIL import Image, ImageCms
from pymongo.errors import AutoReconnect
from tornado.httputil import HTTPFile

from server import media
from server.errors import Invalid, NotFound, TooLarge
from server.media import MediaStore

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


@pytest.fixture
def store(db, config):
    return MediaStore(db, config)


@pytest.fixture
def alarm():
    return {"_id": ObjectId(), "tenant_id": "t1"}


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def photo(body: bytes, filename="photo.jpg", content_type="image/jpeg") -> HTTPFile:
    return HTTPFile(filename=filename, body=body, content_type=content_type)


def small_jpeg(color="green") -> HTTPFile:
    return photo(encode(Image.new("RGB", (32, 24), color)))


def sideways_jpeg_with_gps() -> bytes:
    """40x20, red left half and blue right half, to be turned a quarter clockwise."""
    image = Image.new("RGB", (40, 20), "blue")
    image.paste("red", (0, 0, 20, 20))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "SnitchPhone"
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (32.0, 3.0, 30.0), 3: "E", 4: (118.0, 47.0, 0.0)})
    return encode(image, exif=exif.tobytes(), quality=95)


async def stored_files(db) -> tuple[int, int]:
    files = await db["media.files"].count_documents({})
    chunks = await db["media.chunks"].count_documents({})
    return files, chunks


def near(pixel, color, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color, strict=True))


async def test_exif_and_gps_are_removed_and_orientation_applied(store, alarm):
    body = sideways_jpeg_with_gps()
    source_exif = Image.open(io.BytesIO(body)).getexif()
    assert source_exif[ORIENTATION] == 6 and source_exif.get_ifd(GPS_IFD)

    [described] = await store.store_photos(alarm, [photo(body)])
    meta, data = await store.open_photo(alarm, described["id"])

    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG"
    assert len(stored.getexif()) == 0 and "exif" not in stored.info
    assert b"Exif" not in data and b"SnitchPhone" not in data
    # Turned a quarter clockwise: the red left half is now on top.
    assert stored.size == (20, 40)
    rgb = stored.convert("RGB")
    assert near(rgb.getpixel((10, 5)), (255, 0, 0))
    assert near(rgb.getpixel((10, 35)), (0, 0, 255))
    assert described == {
        "id": described["id"],
        "content_type": "image/jpeg",
        "width": 20,
        "height": 40,
        "bytes": len(data),
    }
    assert meta["owner"] == {"alarm_id": alarm["_id"]}
    assert meta["tenant_id"] == "t1" and meta["kind"] == "alarm_photo"
    assert (meta["width"], meta["height"]) == (20, 40)
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()


async def test_a_jpeg_comment_is_not_carried_over(store, alarm):
    body = encode(Image.new("RGB", (30, 30), "orange"), comment=b"home of officer Li")
    [described] = await store.store_photos(alarm, [photo(body)])
    _, data = await store.open_photo(alarm, described["id"])
    assert b"officer Li" not in data
    assert "comment" not in Image.open(io.BytesIO(data)).info


async def test_a_photo_with_a_colour_profile_is_stored_without_it(store, alarm):
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    body = encode(Image.new("RGB", (30, 30), "orange"), icc_profile=srgb)
    [described] = await store.store_photos(alarm, [photo(body)])
    _, data = await store.open_photo(alarm, described["id"])
    stored = Image.open(io.BytesIO(data))
    assert "icc_profile" not in stored.info
    assert near(stored.getpixel((15, 15)), (255, 165, 0))


async def test_a_png_is_stored_as_jpeg_with_transparency_on_white(store, alarm):
    image = Image.new("RGBA", (30, 20), (0, 0, 0, 0))
    image.paste((0, 128, 0, 255), (15, 0, 30, 20))
    file = photo(encode(image, "PNG"), "shot.png", "image/png")

    [described] = await store.store_photos(alarm, [file])
    meta, data = await store.open_photo(alarm, described["id"])

    stored = Image.open(io.BytesIO(data))
    assert data.startswith(b"\xff\xd8") and stored.format == "JPEG"
    assert stored.mode == "RGB" and meta["content_type"] == "image/jpeg"
    assert near(stored.getpixel((3, 10)), (255, 255, 255))
    assert near(stored.getpixel((25, 10)), (0, 128, 0))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
async def test_accepted_formats_are_read_from_the_content(store, alarm, fmt):
    # The claimed type is deliberately wrong: only the bytes count.
    body = encode(Image.new("RGB", (16, 16), "navy"), fmt)
    file = photo(body, "x.gif", "image/gif")
    [described] = await store.store_photos(alarm, [file])
    assert described["content_type"] == "image/jpeg"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
async def test_other_image_formats_are_refused(store, alarm, db, fmt):
    body = encode(Image.new("RGB", (16, 16), "navy"), fmt)
    with pytest.raises(Invalid) as refused:
        await store.store_photos(alarm, [photo(body)])
    assert refused.value.reason == "not_an_image"
    assert await stored_files(db) == (0, 0)


async def test_a_text_file_posing_as_a_jpeg_is_refused_and_nothing_stored(
    store, alarm, db
):
    fake = photo(b"not a picture at all\n" * 50, "photo.jpg", "image/jpeg")
    with pytest.raises(Invalid) as refused:
        await store.store_photos(alarm, [small_jpeg(), fake])
    assert refused.value.reason == "not_an_image"
    assert refused.value.message.startswith("Photo 2:")
    assert await stored_files(db) == (0, 0)


async def test_a_truncated_jpeg_is_refused(store, alarm):
    noise = Image.effect_noise((200, 200), 80).convert("RGB")
    body = encode(noise)
    with pytest.raises(Invalid) as refused:
        await store.store_photos(alarm, [photo(body[: len(body) // 2])])
    assert refused.value.reason == "not_an_image"


async def test_a_damaged_png_is_refused(store, alarm):
    body = encode(Image.new("RGB", (16, 16), "navy"), "PNG")
    # A wrong checksum on the pixel data: decoding alone would not notice.
    at = body.index(b"IDAT")
    crc = at + 4 + int.from_bytes(body[at - 4 : at], "big")
    damaged = body[:crc] + bytes([body[crc] ^ 0xFF]) + body[crc + 1 :]
    with pytest.raises(Invalid) as refused:
        await store.store_photos(alarm, [photo(damaged, "x.png", "image/png")])
    assert refused.value.reason == "not_an_image"


async def test_more_than_four_photos_are_refused(store, alarm, db):
    files = [small_jpeg() for _ in range(media.MAX_PHOTOS + 1)]
    with pytest.raises(Invalid) as refused:
        await store.store_photos(alarm, files)
    assert refused.value.reason == "too_many_photos"
    assert await stored_files(db) == (0, 0)
    assert len(await store.store_photos(alarm, files[: media.MAX_PHOTOS])) == 4


async def test_a_body_over_the_byte_limit_is_refused_before_decoding(store, alarm, db):
    # A decodable JPEG padded after its end marker: only the size is wrong.
    body = small_jpeg().body
    at_limit = body + b"\0" * (media.MAX_PHOTO_BYTES - len(body))
    with pytest.raises(TooLarge) as refused:
        await store.store_photos(alarm, [small_jpeg(), photo(at_limit + b"\0")])
    assert refused.value.reason == "photo_too_large"
    assert await stored_files(db) == (0, 0)
    assert len(await store.store_photos(alarm, [photo(at_limit)])) == 1


@pytest.mark.parametrize(
    "side",
    [
        7000,  # 49 MP: under Pillow's own limit, over ours
        10000,  # 100 MP: over Pillow's limit as well
    ],
)
async def test_a_huge_picture_in_a_small_file_is_refused(store, alarm, db, side):
    body = encode(Image.new("1", (side, side), 1), "PNG")
    assert len(body) < media.MAX_PHOTO_BYTES
    with pytest.raises(TooLarge) as refused:
        await store.store_photos(alarm, [photo(body, "bomb.png", "image/png")])
    assert refused.value.reason == "photo_too_large"
    assert await stored_files(db) == (0, 0)


async def test_large_photos_are_scaled_down(store, alarm):
    body = encode(Image.new("RGB", (3000, 1000), "teal"))
    [described] = await store.store_photos(alarm, [photo(body)])
    assert (described["width"], described["height"]) == (media.MAX_SIDE, 853)


async def test_photos_are_decoded_off_the_event_loop(store, alarm, monkeypatch):
    threads = []
    original = media.clean_photo

    def spy(body):
        threads.append(threading.current_thread())
        return original(body)

    monkeypatch.setattr(media, "clean_photo", spy)
    await store.store_photos(alarm, [small_jpeg(), small_jpeg()])
    assert len(threads) == 2
    assert threading.main_thread() not in threads


async def test_when_the_third_upload_fails_nothing_remains(
    store, alarm, db, monkeypatch
):
    calls = []
    upload = store.bucket.upload_from_stream_with_id

    async def failing_third(*args, **kwargs):
        calls.append(args[0])
        # The third write reaches the database, then its answer is lost.
        await upload(*args, **kwargs)
        if len(calls) == 3:
            raise AutoReconnect("connection lost")

    monkeypatch.setattr(store.bucket, "upload_from_stream_with_id", failing_third)
    files = [small_jpeg(c) for c in ("red", "green", "blue")]
    with pytest.raises(AutoReconnect):
        await store.store_photos(alarm, files)
    assert len(calls) == 3
    assert await stored_files(db) == (0, 0)


async def test_a_photo_is_served_only_through_its_own_alarm(store, alarm):
    file = small_jpeg()
    [described] = await store.store_photos(alarm, [file])
    meta, data = await store.open_photo(alarm, described["id"])
    assert Image.open(io.BytesIO(data)).size == (32, 24)
    assert meta["content_type"] == "image/jpeg"

    other_alarm = {"_id": ObjectId(), "tenant_id": "t1"}
    other_tenant = {"_id": alarm["_id"], "tenant_id": "t2"}
    for who, photo_id in [
        (other_alarm, described["id"]),
        (other_tenant, described["id"]),
        (alarm, "not-an-id"),
        (alarm, str(ObjectId())),
    ]:
        with pytest.raises(NotFound):
            await store.open_photo(who, photo_id)


async def test_discard_removes_the_photos_and_tolerates_missing_ones(store, alarm, db):
    described = await store.store_photos(alarm, [small_jpeg(), small_jpeg("red")])
    assert (await stored_files(db))[0] == 2
    await store.discard(described)
    assert await stored_files(db) == (0, 0)
    with pytest.raises(NotFound):
        await store.open_photo(alarm, described[0]["id"])
    await store.discard(described)  # already gone: no error


async def test_no_photos_store_nothing(store, alarm, db):
    assert await store.store_photos(alarm, []) == []
    assert await stored_files(db) == (0, 0)
