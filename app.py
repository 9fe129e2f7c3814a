"""WSGI entry point, e.g. `gunicorn app:app`."""
from podium.web import create_app

app = create_app()
