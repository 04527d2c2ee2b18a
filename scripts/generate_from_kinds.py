"""Regenerate what is derived from the registry of store kinds (scanner/kinds.py): the published least-privilege
roles in deploy/ and the README's table of store kinds.

    .venv/bin/python scripts/generate_from_kinds.py           # rewrite the files
    .venv/bin/python scripts/generate_from_kinds.py --check   # exit 1 if a committed file differs
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from providers.roles import generate  # noqa: E402
from scanner.kinds_view import with_kinds_table  # noqa: E402


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = generate(check=check)
    readme = ROOT / "README.md"
    current = readme.read_text()
    if with_kinds_table(current) != current:
        stale.append(str(readme))
        if not check:
            readme.write_text(with_kinds_table(current))
    for path in stale:
        print(f"{path}: {'differs from' if check else 'rewritten from'} scanner/kinds.py", file=sys.stderr)
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
