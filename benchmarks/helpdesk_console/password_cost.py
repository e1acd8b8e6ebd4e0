"""What one console login costs on this machine: argon2id hash (set password) and verify (login).

    .venv/bin/python benchmarks/helpdesk_console/password_cost.py [rounds]

Prints the median milliseconds per operation with the parameters the help desk uses
(argon2-cffi's defaults: RFC 9106 low-memory profile, 64 MiB, 3 passes, 4 lanes).
"""
from __future__ import annotations

import statistics
import sys
import time

from argon2 import PasswordHasher

from otasuke.helpdesk_bot.application.operator_accounts import _hasher


def main(rounds: int = 10) -> None:
    assert isinstance(_hasher, PasswordHasher)
    p = _hasher
    print(f"argon2id: memory {p.memory_cost} KiB, time_cost {p.time_cost}, parallelism {p.parallelism}")
    hashes, verifies = [], []
    for i in range(rounds):
        t = time.perf_counter()
        h = p.hash(f"kujira-ga-sora-wo-tobu-{i}")
        hashes.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        p.verify(h, f"kujira-ga-sora-wo-tobu-{i}")
        verifies.append((time.perf_counter() - t) * 1000)
    print(f"hash   median {statistics.median(hashes):.1f} ms over {rounds}")
    print(f"verify median {statistics.median(verifies):.1f} ms over {rounds} (one login; run in a worker thread)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
