"""``python -m scheduler``: the same as the ``scheduler`` command."""

from .cli.main import main

main()
