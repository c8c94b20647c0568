"""``python -m gaitline``: the same as the ``gaitline`` console script."""

from gaitline.cli.main import main

main()
