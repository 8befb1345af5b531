"""Counters INFO stats reports, with Valkey's field names; CONFIG RESETSTAT zeroes them."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class Stats:
    total_connections_received: int = 0
    total_commands_processed: int = 0
    total_net_input_bytes: int = 0
    total_net_output_bytes: int = 0
    total_net_repl_input_bytes: int = 0
    total_net_repl_output_bytes: int = 0
    rejected_connections: int = 0
    sync_full: int = 0
    sync_partial_ok: int = 0
    sync_partial_err: int = 0
    expired_keys: int = 0
    expired_stale_perc: float = 0.0
    evicted_keys: int = 0
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    total_forks: int = 0
    client_output_buffer_limit_disconnections: int = 0
    client_query_buffer_limit_disconnections: int = 0
    total_error_replies: int = 0
    unexpected_error_replies: int = 0

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, f.default)
