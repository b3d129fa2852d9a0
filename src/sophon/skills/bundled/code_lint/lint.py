"""code.lint: ruff on code passed in, inside the sandbox (ruff is bound read-only at $RUFF)."""

import json
import os
import re
import subprocess
import sys
from typing import Any

RUFF = os.environ.get("RUFF", "/opt/sophon/ruff")
RULE = re.compile(r"^[A-Z]+[0-9]*$")


def ruff(args: list[str], code: str) -> tuple[int, str, str]:
    done = subprocess.run(  # noqa: S603 - ruff from a fixed path, inside the sandbox
        [RUFF, *args, "--no-cache", "--isolated", "--stdin-filename", "snippet.py", "-"],
        input=code.encode(),
        capture_output=True,
        timeout=25,
        check=False,
    )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def findings(code: str, select: list[str]) -> tuple[list[str] | None, str]:
    args = ["check", "--output-format", "json", "--exit-zero"]
    if select:
        args += ["--select", ",".join(select)]
    status, out, err = ruff(args, code)
    if status != 0:
        return None, err.strip()
    items: list[dict[str, Any]] = json.loads(out or "[]")
    lines = [
        f"{i['location']['row']}:{i['location']['column']} {i['code'] or 'E999'} {i['message']}"
        for i in items
    ]
    return lines, ""


def main() -> dict[str, Any]:
    call: dict[str, Any] = json.load(sys.stdin)
    args: dict[str, Any] = call.get("arguments", {})
    code = args.get("code", "")
    action = args.get("action", "lint")
    select = [s for s in args.get("select", []) if isinstance(s, str) and RULE.match(s)]
    if action == "format":
        status, out, err = ruff(["format"], code)
        if status != 0:
            return {"content": f"ruff could not format the code: {err.strip()}", "isError": True}
        return {"content": out}
    if action == "fix":
        args_ = ["check", "--fix", "--exit-zero"]
        args_ += ["--select", ",".join(select)] if select else []
        status, fixed, err = ruff(args_, code)
        if status != 0:
            return {"content": f"ruff could not fix the code: {err.strip()}", "isError": True}
        left, _ = findings(fixed, select)
        remaining = "\n".join(left or []) or "no issues left"
        return {"content": f"{fixed}\n# remaining issues:\n{remaining}"}
    lines, err = findings(code, select)
    if lines is None:
        return {"content": f"ruff failed: {err}", "isError": True}
    return {"content": "\n".join(lines) if lines else "no issues"}


if __name__ == "__main__":
    print(json.dumps(main()))
