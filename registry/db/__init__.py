"""Database layer: typed SQLAlchemy 2.0 models and the session factory. No Flask here."""

from . import trust_models as trust_models  # noqa: F401 - registers the mutual-recognition tables on Base
