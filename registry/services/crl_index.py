"""Old name of :mod:`registry.services.crls.overview` (the latest CRLs, health-check problems),
kept for the callers that import it (the public CRL pages, the dashboard, the health check)."""

from __future__ import annotations

from .crls.overview import CrlInfo, latest, problems

__all__ = ["CrlInfo", "latest", "problems"]
