"""The HTTP side: a WSGI app that routes Slack's requests to Bolt and /healthz to a database check, run by gunicorn;
in Socket Mode (socket_mode.py) each gunicorn process also holds a WebSocket link to Slack, and manifest.py prints
the app manifest for either way in.

May import: bot.services (what a request needs), bot.storage.engine (the health check), slack_bolt and gunicorn.
Never a feature's internals, never bot.testing.
"""
