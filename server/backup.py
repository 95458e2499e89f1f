"""Backup and restore of the platform's database, portable between servers.

``python -m server.backup dump DIR`` writes every collection of the database
(GridFS media included) as gzip-compressed BSON, one file per collection,
and a manifest with each file's document count and SHA-256.
``python -m server.backup restore DIR --database NAME`` loads such a dump
into a database that must be empty (nothing is overwritten), then checks
every count against the manifest. Indexes are not stored: the platform
creates them at every start (server.storage.ensure_indexes), and restore
creates them too.

The dump reads each collection in turn, so it is a consistent snapshot only
while nothing writes: stop the platform first (the embedded database's data
directory can then also simply be copied), or, on a MongoDB replica set in
production, prefer ``mongodump --oplog`` / ``mongorestore --oplogReplay``,
which capture a point in time while the platform runs. Either way, verify
the audit chains of the restored copy (``python -m server.audit verify``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import hashlib
import json
import logging
import sys
import zlib
from pathlib import Path

import bson
from pymongo.asynchronous.database import AsyncDatabase

from server import storage

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "jingdi-backup/1"
# Documents inserted per round trip on restore.
BATCH = 500


class BackupError(Exception):
    """The dump is incomplete, damaged, or the target is not empty."""


async def dump(db: AsyncDatabase, directory: Path) -> dict:
    """Write every collection of ``db`` into ``directory``; returns the manifest.

    The files are written with blocking calls: this runs in the backup
    command (or a test), never on the platform's serving loop.
    """
    directory.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - see above
    if (directory / MANIFEST).exists():
        raise BackupError(f"{directory} already holds a dump")
    collections = {}
    for name in sorted(await db.list_collection_names()):
        if name.startswith("system."):
            continue
        path = directory / f"{name}.bson.gz"
        digest = hashlib.sha256()
        count = 0
        with gzip.open(path, "wb") as out:
            async for document in db[name].find({}, sort=[("_id", 1)]):
                encoded = bson.encode(document)
                out.write(encoded)
                digest.update(encoded)
                count += 1
        collections[name] = {"documents": count, "sha256": digest.hexdigest()}
        log.info("dumped %s: %d documents", name, count)
    manifest = {
        "format": FORMAT,
        "database": db.name,
        "taken_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "collections": collections,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _documents(path: Path, digest) -> list[dict]:
    try:
        with gzip.open(path, "rb") as source:
            data = source.read()
    except (OSError, EOFError, zlib.error) as error:
        raise BackupError(f"{path.name} cannot be read: {error}") from None
    documents = []
    position = 0
    while position < len(data):
        size = int.from_bytes(data[position : position + 4], "little")
        if size < 5 or position + size > len(data):
            raise BackupError(f"{path.name} is truncated at byte {position}")
        raw = data[position : position + size]
        digest.update(raw)
        documents.append(bson.decode(raw))
        position += size
    return documents


async def restore(db: AsyncDatabase, directory: Path, config) -> dict:
    """Load a dump into an empty ``db``; returns {collection: documents}."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"no readable manifest in {directory}: {error}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown dump format {manifest.get('format')!r}")
    existing = [
        n for n in await db.list_collection_names() if not n.startswith("system.")
    ]
    if existing:
        raise BackupError(
            f"database {db.name} is not empty ({len(existing)} collections): "
            "restore into a fresh one"
        )
    # Check every file before writing anything: a damaged dump changes nothing.
    loaded = {}
    for name, expected in manifest["collections"].items():
        digest = hashlib.sha256()
        documents = _documents(directory / f"{name}.bson.gz", digest)
        if (
            len(documents) != expected["documents"]
            or digest.hexdigest() != expected["sha256"]
        ):
            raise BackupError(f"{name}: the file does not match the manifest")
        loaded[name] = documents
    counts = {}
    for name, documents in loaded.items():
        for start in range(0, len(documents), BATCH):
            await db[name].insert_many(documents[start : start + BATCH], ordered=True)
        if not documents:
            await db.create_collection(name)
        counts[name] = await db[name].count_documents({})
        if counts[name] != manifest["collections"][name]["documents"]:
            raise BackupError(f"{name}: {counts[name]} documents after restore")
        log.info("restored %s: %d documents", name, counts[name])
    await storage.ensure_indexes(db, config)
    return counts


# -- the command -------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m server.backup", description="Dump or restore the database."
    )
    parser.add_argument("--config", help="the config file run.py uses")
    parser.add_argument("--uri", help="a MongoDB URI (default: the configured one)")
    sub = parser.add_subparsers(dest="command", required=True)
    out = sub.add_parser("dump", help="write every collection into a new directory")
    out.add_argument("directory", type=Path)
    back = sub.add_parser("restore", help="load a dump into an empty database")
    back.add_argument("directory", type=Path)
    back.add_argument("--database", required=True, help="the (empty) target database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    from server import config as config_module
    from server.embedded import EmbeddedServer

    config = config_module.load(args.config)
    uri = args.uri or config.database.uri
    embedded = None
    if not uri:
        # The embedded database's files: the platform must not be running.
        embedded = EmbeddedServer(config.data_path / "db", 0)
        embedded.start()
        uri = embedded.uri
    try:
        return asyncio.run(_run(args, config, uri))
    except BackupError as error:
        print(f"backup: {error}", file=sys.stderr)
        return 1
    finally:
        if embedded is not None:
            embedded.stop()


async def _run(args, config, uri: str) -> int:
    client = storage.connect(uri, config)
    try:
        if args.command == "dump":
            manifest = await dump(client[config.database.name], args.directory)
            total = sum(c["documents"] for c in manifest["collections"].values())
            print(
                f"dumped {len(manifest['collections'])} collections, "
                f"{total} documents, into {args.directory}"
            )
        else:
            counts = await restore(client[args.database], args.directory, config)
            print(
                f"restored {len(counts)} collections, {sum(counts.values())} "
                f"documents, into {args.database}"
            )
    finally:
        await client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
