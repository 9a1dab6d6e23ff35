"""A fake Slack Web API: a real HTTP server on loopback for tests, benchmarks and local sandboxes.

Point the bot at it with SLACK_API_URL=<fake.url>. It answers Slack's method names with Slack's
response shapes and `ok: false` error codes, records every call, rejects oversize Block Kit the
way Slack does, and can be told to answer 429 (with Retry-After), 5xx or slowly. Given a `RateModel`
(`FakeSlack(rate_model=RateModel())`, `ladderbot fake-slack --rate-model`) it also enforces Slack's rate
limits: per-method tiers and chat.postMessage's per-channel and per-workspace limits, each workspace (token
or team_id) on its own, answering 429 with Retry-After as Slack does.

Also served:
- POST /response/<id>: response_url targets (use `fake.response_url()` in test payloads)
- PUT/POST /upload/<file id>: the upload URL files.getUploadURLExternal hands out
- GET /_fake/calls, POST /_fake/reset: the recorded calls over HTTP, for sandbox use (reset also refills
  the rate model's buckets and zeroes its counts)
- GET /_fake/rates: with a rate model, the calls it allowed and refused, per method and per workspace

- server.py: `FakeSlack` (start, script, inspect) and its HTTP request handler.
- state.py: what the fake remembers (calls, users, messages, files, scripted faults), under one lock.
- methods.py: the Web API methods, one function each, and `answer`, which runs one call.
- wire.py: request bodies, JSON-encoded parameters, PNG checks.
- socketmode.py: Slack's side of Socket Mode (`FakeSlack.socket_mode`): the WebSocket endpoint
  apps.connections.open hands out, envelopes and their acks, disconnect messages, drops and redelivery.
- ratelimit.py: `RateModel` (Slack's limits), `RateLimiter` (token buckets, counts) and `minimum_seconds`
  (the least time a number of DMs can take under the model).

Import `FakeSlack`, the rate model (and `png_size`) from here. May import: the standard library, websockets (the
Socket Mode endpoint) and bot.blocks.kit (the Block Kit limits Slack enforces); never the bot's features, storage
or app.
"""

from bot.testing.fakeslack.ratelimit import RateLimiter, RateModel, minimum_seconds
from bot.testing.fakeslack.server import FakeSlack
from bot.testing.fakeslack.state import Call, User
from bot.testing.fakeslack.wire import png_size

__all__ = ["Call", "FakeSlack", "RateLimiter", "RateModel", "User", "minimum_seconds", "png_size"]
