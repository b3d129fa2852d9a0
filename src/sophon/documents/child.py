"""The extraction child: `python -m sophon.documents.child FORMAT LIMITS_JSON` with the file on
stdin (an open regular file, so parsers can seek). Prints one JSON object on stdout. Imports
nothing of the Gateway: it runs inside the sandbox with only the parsing libraries."""

from __future__ import annotations

import json
import os
import sys

from sophon.documents.extractors import Limits, extract


def main(argv: list[str]) -> int:
    fmt, raw_limits = argv[1], json.loads(argv[2])
    limits = Limits(**raw_limits)
    with os.fdopen(0, "rb", closefd=False) as stream:
        answer = extract(fmt, stream, limits)
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
