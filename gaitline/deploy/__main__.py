"""``python -m gaitline.deploy [--check]``: write (or check) every file generated from the code's declarations."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from gaitline.deploy import CHART, ROOT


def generated() -> dict[Path, Callable[[], str]]:
    """Each generated file and the function that renders it (imported lazily: the dashboard needs its SDK)."""
    from gaitline.deploy import constraints, dashboard, topics, values_schema

    return {CHART / "files" / "topics.yaml": topics.render,
            CHART / "values.schema.json": values_schema.render,
            CHART / "files" / "dashboard.json": dashboard.render,
            ROOT / "constraints.txt": constraints.render}


def main(argv: list[str] | None = None) -> int:
    """Write the files; with ``--check`` write nothing and exit 1 when one differs."""
    parser = argparse.ArgumentParser(prog="python -m gaitline.deploy", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say which files are out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, render in generated().items():
        text = render()
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.relative_to(ROOT).as_posix())
        if not args.check:
            path.write_text(text)
    for rel in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {rel}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
