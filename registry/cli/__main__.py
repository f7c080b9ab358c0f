"""``python -m registry.cli``, as the ``registry`` command."""

from . import main

if __name__ == "__main__":  # not when imported (tests import every module)
    main()
