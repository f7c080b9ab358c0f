"""The enterprise portal: the blueprint, its guards and its sign-in pages (blueprint.py), and its other pages
(*_views.py), which register on the blueprint when imported here."""

from . import (  # noqa: F401  (each module registers its pages on bp)
    help_views,
    notice_views,
    people_views,
    seal_views,
)
from .blueprint import bp as bp
