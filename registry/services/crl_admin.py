"""Old name of :mod:`registry.services.crls.overview` (the back office's CRL page), kept for the
admin's CRL views that import it."""

from __future__ import annotations

from .crls.overview import CrlOverview, overview

__all__ = ["CrlOverview", "overview"]
