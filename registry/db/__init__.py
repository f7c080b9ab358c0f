"""Database layer: typed SQLAlchemy 2.0 models and the session factory. No Flask here."""
