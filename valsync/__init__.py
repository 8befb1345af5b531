"""valsync: a Valkey-compatible server in Python, built around Valkey's replication protocol."""

__version__ = "0.1.0"
VALKEY_COMPAT_VERSION = "8.1.8"
