"""`make up` refuses to start over a port another process listens on, and only then: the connections of a
`make up` stopped a moment ago wait out TIME_WAIT on its ports, which the servers bind over."""

from __future__ import annotations

import socket
from contextlib import closing
from pathlib import Path

from local.up import Port, ports_in_use


def _listener() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))
    server.listen()
    return server


def test_a_port_someone_listens_on_is_reported() -> None:
    with closing(_listener()) as server:
        port = Port(server.getsockname()[1], "the router", "ROUTER_PORT")

        assert ports_in_use([port]) == [port]


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free() -> None:
    server = _listener()
    number = server.getsockname()[1]
    with closing(socket.create_connection(("127.0.0.1", number))):
        accepted, _ = server.accept()
        # The server side closes first, as a stopped server does: its end of the connection waits in TIME_WAIT.
        accepted.close()
        server.close()
    states = {
        line.split()[3]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[1].endswith(f":{number:04X}")
    }
    assert "06" in states, "no connection in TIME_WAIT on the port: the test would prove nothing"

    assert ports_in_use([Port(number, "the router", "ROUTER_PORT")]) == []
