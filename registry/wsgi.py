"""WSGI entry point for production servers: ``gunicorn 'registry.wsgi:app'``."""

from .web import create_app

app = create_app()
