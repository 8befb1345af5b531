"""``oom-score-adj`` against a stand-in for /proc/self/oom_score_adj."""

from __future__ import annotations

from pathlib import Path

import pytest

from valsync.config import Config, ConfigError
from valsync.oom_score import BGCHILD, OomScoreAdj


def _setup(tmp_path: Path, start: int = 5) -> tuple[Config, OomScoreAdj, Path, list[bool]]:
    proc = tmp_path / "oom_score_adj"
    proc.write_text(f"{start}\n")
    config = Config()
    replica = [False]
    oom = OomScoreAdj(config, lambda: replica[0], str(proc))
    config.on_change("oom-score-adj", oom.apply_for_config)
    config.on_change("oom-score-adj-values", oom.apply_for_config)
    return config, oom, proc, replica


def test_relative_follows_role_and_restores_the_first_score(tmp_path: Path) -> None:
    config, oom, proc, replica = _setup(tmp_path)
    config.config_set([("oom-score-adj-values", "10 20 30"), ("oom-score-adj", "yes")])
    assert proc.read_text() == "15\n"
    replica[0] = True
    oom.apply_quietly()
    assert proc.read_text() == "25\n"
    oom.apply_quietly(BGCHILD)
    assert proc.read_text() == "35\n"
    config.config_set([("oom-score-adj", "no")])
    assert proc.read_text() == "5\n"
    proc.write_text("7\n")
    config.config_set([("oom-score-adj-values", "1 1 1")])
    assert proc.read_text() == "7\n"  # disabled: the file is not touched


def test_absolute_and_clamping(tmp_path: Path) -> None:
    config, _, proc, _ = _setup(tmp_path)
    config.config_set([("oom-score-adj-values", "2000 0 0"), ("oom-score-adj", "absolute")])
    assert proc.read_text() == "1000\n"


def test_values_are_checked_in_valkeys_words(tmp_path: Path) -> None:
    config, _, _, _ = _setup(tmp_path)
    with pytest.raises(ConfigError, match="must be between -2000 and 2000"):
        config.config_set([("oom-score-adj-values", "-2001 0 0")])
    with pytest.raises(ConfigError, match="wrong number of arguments"):
        config.config_set([("oom-score-adj-values", "1 2")])
    assert config.get_str("oom-score-adj-values") == "0 200 800"


def test_a_failed_write_rolls_the_setting_back(tmp_path: Path) -> None:
    config, oom, _, _ = _setup(tmp_path)
    oom.proc_file = str(tmp_path / "missing" / "oom_score_adj")
    with pytest.raises(ConfigError, match="Failed to set current oom_score_adj"):
        config.config_set([("oom-score-adj", "yes")])
    assert config.get_str("oom-score-adj") == "no"
