"""Test-wide settings: hypothesis without per-example deadlines (timings move with the
machine's load; correctness, not speed, is what these tests check)."""

from hypothesis import settings

settings.register_profile("valsync", deadline=None)
settings.load_profile("valsync")
