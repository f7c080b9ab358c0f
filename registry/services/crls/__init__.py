"""Certificate revocation lists: :mod:`.publish` (the publish run, the publisher daemon),
:mod:`.files` (the published files: atomic writes, the publish lock, stale temporary files) and
:mod:`.overview` (what is published and stale; the back office's CRL page). The entries are read by
:mod:`registry.db.crl_entries`; the lease is :mod:`registry.services.core.leases`."""
