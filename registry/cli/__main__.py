"""``python -m registry.cli``, as the ``registry`` command."""

from . import main

main()
