"""Regenerate ``valsync/commands/data/command_table.json`` from real valkey-server binaries.

The file is a fact table: for every command of Valkey 8.1.8 (and the ones 9.1.2 adds), its
``COMMAND INFO`` entry and its ``COMMAND DOCS`` entry, exactly as the server sends them in
RESP3, in a typed JSON form (a JSON string is a bulk string, ``{"s": ...}`` a simple string,
``{"set": [...]}`` a set, ``{"map": [[k, v], ...]}`` a map). valsync answers COMMAND from it,
so its replies are the real ones byte for byte. Run: ``python tools/gen_command_table.py``.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.realvalkey import start_valkey  # noqa: E402

OUT = (
    Path(__file__).resolve().parent.parent / "valsync" / "commands" / "data" / "command_table.json"
)


class Resp3:
    """A minimal blocking RESP3 client that keeps each reply's exact type."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.call("HELLO", "3")

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 20)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(1 << 20)
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def read(self) -> Any:
        line = self._line()
        kind, body = line[:1], line[1:]
        if kind == b"$":
            return self._exact(int(body)).decode()
        if kind == b"+":
            return {"s": body.decode()}
        if kind == b":":
            return int(body)
        if kind == b"_":
            return None
        if kind == b"*":
            return [self.read() for _ in range(int(body))]
        if kind == b"~":
            return {"set": [self.read() for _ in range(int(body))]}
        if kind == b"%":
            return {"map": [[self.read(), self.read()] for _ in range(int(body))]}
        if kind == b"-":
            raise RuntimeError(body.decode())
        raise ValueError(f"unexpected RESP3 type {line!r}")

    def call(self, *args: str) -> Any:
        out = b"*%d\r\n" % len(args)
        for a in args:
            out += b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode())
        self.sock.sendall(out)
        return self.read()


def table(port: int) -> dict[str, dict[str, Any]]:
    client = Resp3(port)
    out: dict[str, dict[str, Any]] = {}
    for entry in client.call("COMMAND"):
        name = entry[0]
        docs = client.call("COMMAND", "DOCS", name)["map"]
        out[name] = {"info": entry, "docs": docs[0][1] if docs else None}
    return out


def main() -> None:
    with start_valkey("8.1.8") as v8:
        commands = table(v8.port)
    with start_valkey("9.1.2") as v9:
        newer = table(v9.port)
    for name, entry in sorted(newer.items()):
        if name not in commands:
            commands[name] = {**entry, "since_valkey": "9.1.2"}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(dict(sorted(commands.items())), separators=(",", ":")) + "\n")
    print(f"{len(commands)} commands written to {OUT}")


if __name__ == "__main__":
    main()
