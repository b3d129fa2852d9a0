"""The chat REPL's input line on a terminal: editing and arrow keys (GNU readline, from the
standard library) and a history kept in the CLI's config dir across sessions."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from types import ModuleType

from sophon.cli.config import config_path

HISTORY_LENGTH = 1000


def history_path() -> Path:
    return config_path().parent / "chat_history"


class LineInput:
    """`read(prompt)`: a line typed by the user; with history and editing on a terminal."""

    def __init__(self, terminal: bool) -> None:
        self._readline: ModuleType | None = None
        if not terminal:
            return
        try:
            import readline
        except ImportError:  # a Python built without it: plain lines, no history
            return
        self._readline = readline
        readline.set_auto_history(False)  # approval prompts stay out of the history
        readline.set_history_length(HISTORY_LENGTH)
        path = history_path()
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))  # what is typed is private
            readline.read_history_file(path)
            readline.write_history_file(path)  # trimmed to HISTORY_LENGTH

    def read(self, prompt: str) -> str:
        line = input(prompt)
        if self._readline is not None and line.strip():
            self._readline.add_history(line)
            with contextlib.suppress(OSError):
                self._readline.append_history_file(1, history_path())
        return line
