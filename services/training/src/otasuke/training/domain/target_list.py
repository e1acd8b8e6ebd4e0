"""Recipients from a request or a CSV export: validated, de-duplicated, given tokens.

CSV columns (header row, Japanese or English names): email / メールアドレス,
name / 氏名, department / 部署, position / 役職, manager / 上長.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from dataclasses import dataclass

EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")

COLUMNS = {
    "email": "email", "メールアドレス": "email", "メール": "email",
    "name": "name", "氏名": "name", "名前": "name",
    "department": "department", "部署": "department", "所属": "department",
    "position": "position", "役職": "position",
    "manager": "manager", "上長": "manager",
}


@dataclass(frozen=True)
class Target:
    email: str
    name: str = ""
    department: str = ""
    position: str = ""
    manager: str = ""


class InvalidTargets(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
        self.problems = problems


def parse_csv(text: str) -> list[Target]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise InvalidTargets(["the CSV is empty"])
    header = [COLUMNS.get(h.strip().lower(), COLUMNS.get(h.strip())) for h in rows[0]]
    if "email" not in header:
        raise InvalidTargets(["the CSV needs an 'email' (メールアドレス) column in its header row"])
    out = []
    for row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        values = {key: cell.strip() for key, cell in zip(header, row) if key}
        out.append(Target(**values))
    return out


def validate(targets: list[Target]) -> tuple[list[Target], int]:
    """Targets with valid, unique addresses; raises on invalid ones. Returns (targets, duplicates dropped)."""
    problems = []
    seen: set[str] = set()
    unique: list[Target] = []
    for i, t in enumerate(targets, start=1):
        if not EMAIL.match(t.email):
            problems.append(f"recipient {i}: {t.email!r} is not an email address")
            continue
        key = t.email.lower()
        if key in seen:
            continue
        seen.add(key)
        unique.append(t)
    if problems:
        raise InvalidTargets(problems)
    if not unique:
        raise InvalidTargets(["at least one recipient is needed"])
    return unique, len(targets) - len(unique)


def recipient_token(key: str, campaign_id: str, email: str) -> str:
    """The recipient's id and link token: unguessable, and the same for a retried creation."""
    digest = hmac.new(key.encode(), f"{campaign_id}:{email.lower()}".encode(), hashlib.sha256).hexdigest()
    return "r" + digest[:31]
