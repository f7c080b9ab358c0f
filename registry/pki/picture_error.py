"""The one error of the seal-picture modules (:mod:`.fonts`, :mod:`.picture`, :mod:`.png`)."""

from __future__ import annotations

from ..messages import Localized


class PictureError(Localized, ValueError):
    """A seal picture could not be rendered or an uploaded picture is not acceptable; one-line message."""
