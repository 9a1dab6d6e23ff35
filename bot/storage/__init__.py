"""Storage: the database engine and sessions, the models, and the queries, one module per aggregate.

- engine.py: engines for SQLite and PostgreSQL, the session factory, Alembic migrate/downgrade, the health check.
- models.py: the typed SQLAlchemy models (every schema change comes with a migration in migrations/).
- upsert.py: INSERT ... ON CONFLICT DO NOTHING on either backend.
- people.py: queries for workspaces and people.

Query functions take a Session and never commit: the caller's unit of work (a request, a clock job) does.
May import: bot.config, sqlalchemy and alembic only; never a feature, the content, Slack or the app.
"""
