"""Backup and restore: a dump restored into a fresh database holds everything."""

from __future__ import annotations

import asyncio
import gzip
import sys

import pytest

from server.audit import AuditLog
from server.backup import BackupError, dump, restore
from tests.test_alarms import citizen, open_all_day, raise_alarm
from tests.test_rooms import jpeg, room_with_experts, send, upload

CHECKED = ("alarms", "room_messages", "audit", "media.files", "media.chunks", "users")


async def some_of_everything(live_server) -> None:
    await open_all_day(live_server)
    for _ in range(3):
        status, _ = await raise_alarm(await citizen(live_server))
        assert status == 201
    opener, (expert,), room_id = await room_with_experts(live_server, 1)
    for number in range(5):
        status, _ = await send(opener, room_id, f"c{number}", f"message {number}")
        assert status == 201
    status, _ = await upload(expert, room_id, "photo", jpeg())
    assert status == 201
    assert await live_server.platform.audit.flush()


async def everything_in(db, name: str) -> list[dict]:
    return await db[name].find({}, sort=[("_id", 1)]).to_list()


async def test_a_dump_restores_whole_into_a_fresh_database(
    live_server, config, tmp_path
):
    await some_of_everything(live_server)
    platform = live_server.platform
    manifest = await dump(platform.db, tmp_path / "dump")
    assert manifest["collections"]["alarms"]["documents"] == 3
    target = platform.client[f"{config.database.name}_restored"]
    try:
        counts = await restore(target, tmp_path / "dump", config)
        for name in CHECKED:
            original = await everything_in(platform.db, name)
            assert original, name
            assert await everything_in(target, name) == original, name
            assert counts[name] == len(original)
        # The restored audit log still verifies, and its indexes exist.
        assert await AuditLog(target).verify() == []
        indexes = await target.audit.index_information()
        assert any(i.get("unique") for i in indexes.values())
        # Restoring over data is refused: nothing is overwritten.
        with pytest.raises(BackupError, match="not empty"):
            await restore(target, tmp_path / "dump", config)
    finally:
        await platform.client.drop_database(target.name)


async def test_a_damaged_dump_is_refused_before_anything_is_written(
    live_server, config, tmp_path
):
    await some_of_everything(live_server)
    await dump(live_server.platform.db, tmp_path / "dump")
    path = tmp_path / "dump" / "room_messages.bson.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-7]))  # the last message cut short
    target = live_server.platform.client[f"{config.database.name}_damaged"]
    try:
        with pytest.raises(BackupError, match="room_messages"):
            await restore(target, tmp_path / "dump", config)
        assert await target.list_collection_names() == []
    finally:
        await live_server.platform.client.drop_database(target.name)


async def test_the_commands_dump_and_restore(live_server, config, tmp_path):
    await some_of_everything(live_server)
    settings = tmp_path / "jingdi.toml"
    settings.write_text(f'[database]\nname = "{config.database.name}"\n')
    common = ["-m", "server.backup", "--config", str(settings), "--uri"]
    common.append(config.database.uri)
    restored = f"{config.database.name}_cli"

    async def run(*args) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *common,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        async with asyncio.timeout(60):
            output, _ = await process.communicate()
        return process.returncode, output.decode()

    try:
        code, output = await run("dump", str(tmp_path / "d"))
        assert code == 0, output
        assert "dumped" in output
        code, output = await run("restore", str(tmp_path / "d"), "--database", restored)
        assert code == 0, output
        db = live_server.platform.client[restored]
        assert await db.alarms.count_documents({}) == 3
        code, output = await run("restore", str(tmp_path / "d"), "--database", restored)
        assert code == 1 and "not empty" in output
    finally:
        await live_server.platform.client.drop_database(restored)
