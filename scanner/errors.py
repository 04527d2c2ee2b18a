"""Errors the user can act on: each renders as one line naming file, line and problem."""

from __future__ import annotations


class InputError(Exception):
    """Bad input (config, policy, catalog, command line). Printed as one line, exit code 2."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        self.problem = message
        where = file or ""
        if file and line:
            where = f"{file}:{line}"
        super().__init__(f"{where}: {message}" if where else message)
