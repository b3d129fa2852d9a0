"""The static check at install: scripts (and instructions) that pipe a download into a shell,
read SSH keys or `.env` files, or write an agent's persona files are flagged. A flagged skill
installs only with an admin's explicit override (`allowFlagged`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sophon.platform.errors import ValidationFailed

RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = (
    (
        "pipe-to-shell",
        "pipes a download into a shell",
        re.compile(
            r"\b(curl|wget|fetch)\b[^\n|;]*\|\s*(sudo\s+)?(ba|z|k|da)?sh\b"
            r"|\b(iex|invoke-expression)\b[^\n]*(downloadstring|invoke-webrequest|iwr)",
            re.IGNORECASE,
        ),
    ),
    (
        "ssh-keys",
        "reads SSH keys (~/.ssh)",
        re.compile(
            r"(~|\$HOME|expanduser\([^)]*\)|home\(\))[^\n]{0,20}\.ssh\b|\bid_(rsa|ed25519|ecdsa)\b"
        ),
    ),
    (
        "dotenv",
        "reads .env files",
        re.compile(r"""(["'/\\]|\b(load_dotenv|dotenv)\b)\.env\b|\bload_dotenv\s*\("""),
    ),
    (
        "persona-files",
        "writes agent persona files",
        re.compile(r"\b(SOUL|BOOT|HEARTBEAT|AGENTS|TOOLS)\.md\b"),
    ),
)
_TEXT_LIMIT = 2 * 1024 * 1024


class FlaggedSkill(ValidationFailed):
    code = "skill_flagged"
    default_message = "The static check flagged this skill; an admin must override it."


def scan(files: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """Every finding: file, line, rule and the line itself (shortened)."""
    findings: list[dict[str, Any]] = []
    for path in sorted(files):
        content = files[path]
        if len(content) > _TEXT_LIMIT or b"\0" in content[:8192]:
            continue
        text = content.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for rule, meaning, pattern in RULES:
                if rule == "persona-files" and path == "SKILL.md":
                    continue  # instructions may name persona files; code writing them is flagged
                if pattern.search(line):
                    findings.append(
                        {
                            "file": path,
                            "line": number,
                            "rule": rule,
                            "message": meaning,
                            "excerpt": line.strip()[:200],
                        }
                    )
    return findings
