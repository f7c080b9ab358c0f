"""Peer registries (mutual-recognition.md §2.2): admitting another region under dual control,
refreshing its trust list, suspending, resuming and withdrawing it.

* :func:`propose` (an admin, Permission.PEER_PROPOSE): fetch the peer's ``list.jws``, verify it
  under the fingerprints read out of band, and record a **proposal** with what would be trusted.
* :func:`approve` (another person, admin or reviewer, Permission.PEER_APPROVE): the peer becomes
  ``active`` with the list proposed.
* :func:`change_state` (Permission.PEER_MANAGE): ``suspend`` (what it vouches for becomes
  indeterminate), ``resume``, ``withdraw`` (no longer fetched; its lists kept).
* :func:`refresh` (the refresher beside ``registry serve``, or ``registry peer refresh``):
  conditional GET, verification, the acceptance rule of :func:`registry.domain.trust_list.decide`
  through missed versions, equivocation suspends the peer; a refused or failed fetch keeps the last
  good list and records why.

Every step is an audit event carrying the list's sequence and SHA-256. Trust is never transitive:
a peer's ``peers.jws`` is not read.
"""

from .admission import (
    PeerError,
    Proposal,
    approve,
    change_state,
    check_approver,
    check_proposal,
    propose,
)
from .refresh import RefreshResult, refresh, refresher
from .views import CrlRow, PeerView, expired_peers, list_peers, peer_crls, show_peer

__all__ = [
    "PeerError",
    "Proposal",
    "propose",
    "approve",
    "check_approver",
    "check_proposal",
    "change_state",
    "RefreshResult",
    "refresh",
    "refresher",
    "PeerView",
    "list_peers",
    "show_peer",
    "expired_peers",
    "peer_crls",
    "CrlRow",
]
