"""The unit tier's guard (tests/unit/conftest.py): what it refuses, and what it lets through."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import tests.conftest
from tests.unit.conftest import UnitTierBoundary


def test_building_a_release_is_refused() -> None:
    with pytest.raises(UnitTierBoundary, match="builds no release"):
        tests.conftest.cached_synthetic_release()


def test_starting_a_process_is_refused_naming_it() -> None:
    with pytest.raises(UnitTierBoundary, match=r"starts no process .*node"):
        subprocess.run(["node", "--version"], check=False)
    with pytest.raises(UnitTierBoundary, match="starts no process"):
        subprocess.run([sys.executable, "-m", "pip", "download", "boto3"], check=False)


def test_a_host_name_is_not_looked_up() -> None:
    with pytest.raises(
        UnitTierBoundary, match=re.escape("looks up no host name: cloudformation.us-east-1.amazonaws.com")
    ):
        socket.getaddrinfo("cloudformation.us-east-1.amazonaws.com", 443)


def test_a_connection_beyond_this_process_is_refused() -> None:
    with socket.socket() as remote, pytest.raises(UnitTierBoundary, match=re.escape("connect to 169.254.169.254:80")):
        remote.connect(("169.254.169.254", 80))
    with socket.socket() as loopback, pytest.raises(UnitTierBoundary, match=re.escape("connect to 127.0.0.1:9")):
        loopback.connect(("127.0.0.1", 9))


def test_a_server_of_the_test_itself_is_reachable_on_loopback() -> None:
    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5) as answer:
            assert answer.read() == b"hello"
    finally:
        server.shutdown()
        server.server_close()
