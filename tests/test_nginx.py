"""The sample nginx configuration, run in front of two platform processes.

`config/nginx.example.conf` is made runnable here with as few changes as a
test needs: its public server block listens on a local port over plain HTTP
(no certificate), the port-80 redirect is left out, its upstream names the two
test processes, and it is wrapped in the main and ``http`` contexts an
``include`` would give it. Everything else (the sticky hash on the session
cookie, the websocket upgrade, the headers, the timeouts) is used as shipped.

Through it: an officer's every request and websocket land on one process
(sticky), a citizen raises an alarm, the offer reaches the officer's socket
through nginx, and the officer claims it over that socket.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from server.embedded import free_port
from tests.outside import citizen, raise_at_scene, signed_in
from tests.test_alarms import SCENE
from tests.test_cluster import TIMEOUT, next_event, nodes  # noqa: F401 - the fixture
from tests.test_embedded import wait_until
from tests.test_run import launch  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "config" / "nginx.example.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def runnable_config(sample: str, ports: list[int], listen: int, prefix: Path) -> str:
    """The sample as a whole nginx.conf for this test (see the module)."""
    upstreams = re.findall(r"^\s*server 127\.0\.0\.1:\d+ .*;$", sample, re.M)
    assert len(upstreams) == len(ports), upstreams
    for line, port in zip(upstreams, ports, strict=True):
        sample = sample.replace(
            line, re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", line), 1
        )
    assert "listen 443 ssl http2;" in sample
    sample = sample.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{listen};")
    sample = re.sub(r"^\s*ssl_certificate(_key)?\s.*$", "", sample, flags=re.M)
    redirect = sample.rindex("server {")
    assert "return 301" in sample[redirect:]
    sample = sample[:redirect]
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}worker_processes 1;\n"
        f"error_log {prefix}/error.log warn;\n"
        f"pid {prefix}/nginx.pid;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  access_log {prefix}/access.log;\n"
        f"  client_body_temp_path {prefix}/body;\n"
        f"  proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi;\n"
        f"  uwsgi_temp_path {prefix}/uwsgi;\n"
        f"  scgi_temp_path {prefix}/scgi;\n"
        f"{sample}\n"
        "}\n"
    )


@pytest.fixture
def nginx(tmp_path):
    """Starts nginx with a config the test gives; stops it afterwards."""
    assert Path(NGINX).exists(), "nginx is missing: run scripts/setup.sh --test"
    started = []

    def start(ports: list[int]) -> str:
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        listen = free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(runnable_config(SAMPLE.read_text(), ports, listen, prefix))
        args = [NGINX, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
        checked = subprocess.run([*args, "-t"], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL)
        started.append(process)
        url = f"http://127.0.0.1:{listen}"
        wait_until(lambda: _answers(url), "nginx to answer /healthz")
        return url

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


async def test_the_sample_config_keeps_a_phone_on_one_process_and_carries_its_socket(
    nodes,  # noqa: F811 - the fixture imported above
    nginx,
):
    [name] = await nodes.seed(claim_window_s=120, officers=1)
    for node in ("A", "B"):
        nodes.start(node, JINGDI_SERVER_XHEADERS="true")
    for process in nodes.processes.values():
        process.wait_healthy()
    url = nginx([nodes.processes["A"].port, nodes.processes["B"].port])

    officer = await signed_in(url, name, nodes.passwords[name])
    officer_id = officer.user["id"]
    assert (await officer.post("/api/officer/duty", {"duty": "on"}))[0] == 200
    for _ in range(5):
        status, _ = await officer.get("/api/officer/musters")
        assert status == 200
    socket = await officer.websocket()
    welcome = await socket.receive_type("welcome")
    assert welcome["user"]["id"] == officer_id
    await socket.send({"type": "subscribe", "id": 1, "topic": f"user:{officer_id}"})
    await socket.receive_type("subscribed")
    near = (SCENE[0] + 0.001, SCENE[1])
    await socket.send({"type": "position", "lon": near[0], "lat": near[1]})

    # Sticky: every request of this session went to one process.
    served = {
        node: process.output().count(f"staff={officer_id}")
        for node, process in nodes.processes.items()
    }
    [home] = [node for node, count in served.items() if count]
    assert served[home] >= 6, served  # the duty and five reads
    await nodes.known_to_others(home, [officer_id])

    person = await citizen(url)
    alarm_id = await raise_at_scene(person)
    offer = await next_event(socket, "offer.new")
    assert offer["alarm_id"] == alarm_id
    await socket.send({"type": "claim", "id": "c", "alarm_id": alarm_id})
    async with asyncio.timeout(TIMEOUT):
        claimed = await socket.receive_type("claimed")
    assert claimed["alarm"]["status"] == "assigned"
    stored = await nodes.alarm(alarm_id)
    assert stored["assignee"]["officer_id"] == officer_id
    for client in (officer, person):
        client.close_sockets()
