"""The HTTP side: a WSGI app that routes Slack's requests to Bolt and /healthz to a database check, run by gunicorn.

May import: bot.services (what a request needs), bot.storage.engine (the health check), slack_bolt and gunicorn.
Never a feature's internals, never bot.testing.
"""
