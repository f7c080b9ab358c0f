"""The admin portal: the blueprint, its guards and its sign-in pages (blueprint.py), and its other pages
(*_views.py), which register on the blueprint when imported here."""

from . import (  # noqa: F401  (each module registers its pages on bp)
    application_views,
    audit_views,
    crl_views,
    dashboard_views,
    enterprise_views,
    export_views,
    peer_views,
    seal_views,
    trust_views,
    user_views,
)
from .blueprint import bp as bp
