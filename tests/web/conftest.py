"""Fixtures of the web tests (the Flask test client); the app, ``ctx`` and the rest are in tests/conftest.py."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """An anonymous test client of ``app`` (the app on ``ctx``: TESTING, pages in Chinese, the default).
    Tests that want a second client, or one on another app or context, make their own."""
    return app.test_client()
