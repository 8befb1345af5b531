"""The CONFIG REWRITE merge, as Valkey's rewriteConfig does it, without files."""

from __future__ import annotations

from valsync.config import Config
from valsync.config_rewrite import SIGNATURE, RewriteLine, rewrite_config_text

NAMES = {"port": "port", "save": "save", "slaveof": "replicaof", "replicaof": "replicaof"}


def _merge(old: str, *offered: RewriteLine) -> str:
    return rewrite_config_text(old, offered, NAMES.get)


def test_in_place_then_appended_after_the_signature() -> None:
    old = "# mine\nport 1\n\n\nnosuch-directive 3\ninclude other.conf\n"
    new = _merge(
        old,
        RewriteLine("port", "port 2", True),
        RewriteLine("save", 'save ""', True),
    )
    assert new == (
        f'# mine\nport 2\n\n# ??? nosuch-directive 3\ninclude other.conf\n\n{SIGNATURE}\nsave ""\n'
    )
    # a second rewrite keeps one signature; the file's last newline reads as one more empty
    # line (as Valkey's sdssplitlen reads it), and empty runs collapse, so it settles
    again = _merge(new, RewriteLine("port", "port 2", True), RewriteLine("save", 'save ""', True))
    assert again == new + "\n"
    assert _merge(again, RewriteLine("port", "port 2", True)) == again


def test_aliases_fold_and_orphans_are_blanked() -> None:
    old = "slaveof 1.2.3.4 5\nport 1\nreplicaof 6.7.8.9 10\n"
    # a primary now: every replicaof/slaveof line goes; an unforced default stays in place
    new = _merge(old, RewriteLine("replicaof", None, False), RewriteLine("port", "port 1", False))
    assert new == "\nport 1\n\n"


def test_unforced_defaults_are_not_appended() -> None:
    assert _merge("", RewriteLine("port", "port 6379", False)) == ""


def test_config_offers_valkeys_spellings() -> None:
    cfg = Config()
    cfg.config_set(
        [
            ("maxmemory", "3mb"),
            ("requirepass", 'x "y'),
            ("client-output-buffer-limit", "pubsub 1mb 512kb 10"),
            ("save", "900 1 300 10"),
        ]
    )
    text = cfg.rewrite_text("", ("10.0.0.1", 6380))
    lines = set(text.splitlines())
    assert {
        "maxmemory 3mb",
        'requirepass "x \\"y"',
        "client-output-buffer-limit pubsub 1mb 512kb 10",
        "save 900 1 300 10",
        "replicaof 10.0.0.1 6380",
    } <= lines
    assert not any(line.startswith("client-output-buffer-limit normal") for line in lines)
