"""Regenerate the published least-privilege roles (deploy/) from the registry of store kinds (scanner/kinds.py).

    .venv/bin/python scripts/generate_roles.py           # rewrite the files
    .venv/bin/python scripts/generate_roles.py --check   # exit 1 if a committed file differs
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from providers.roles import generate


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = generate(check=check)
    for path in stale:
        print(f"{path}: {'differs from' if check else 'rewritten from'} scanner/kinds.py", file=sys.stderr)
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
