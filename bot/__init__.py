"""ladderbot: a self-hosted Slack bot for engineering career ladders, interview questions and growth nudges.

One package per room, from the bottom up (each may import only what sits below it; lint-imports checks it):
- config, errors, ids, schedule: settings, refused-request errors, Block Kit ids, weekly time maths.
- content/: the frozen content records and their one YAML loader.
- blocks/ (pure Block Kit builders) and storage/ (engine, models, queries; never commits).
- ladder/, growth/, team/: the features (team may import growth, never the reverse).
- clock/: the outbox and the scheduled sends; only cli and services import it.
- services (Services, build_services), then handlers/ (thin Bolt listeners, beside bot/).
- app (create_app), web/ (the WSGI server) and testing/ (the fake Slack); cli at the top.
"""
