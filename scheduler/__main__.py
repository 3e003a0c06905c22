"""``python -m scheduler``: the same as the ``scheduler`` command."""

from .cli import main

main()
