"""Property tests: any command text gets a valid answer; any mangled content gets a ContentError."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.blocks.kit import message_problems
from bot.content.loader import load_content
from bot.content.validate import ContentError

WORDS = [
    "senior",
    "sr",
    "mid",
    "->",
    "compare",
    "area",
    "security",
    "topics",
    "staff",
    "system-design",
    "3",
    "junior",
    "&amp;",
    "&lt;",
    "help",
    "principal",
    "to",
    "scope",
    "time",
    "areas",
    "roadmap",
]
command_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.sampled_from(WORDS) | st.text(max_size=12), max_size=8).map(" ".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=command_text)
def test_ladder_always_answers_validly(answers, text):
    message = answers.ladder(text)
    assert message_problems(message) == []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=command_text)
def test_interview_always_answers_validly(answers, text):
    message = answers.interview(text)
    assert message_problems(message) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=command_text, command=st.sampled_from(["/ladder", "/interview"]))
def test_random_text_through_the_real_server(server, text, command):
    reply = server.sender.command(command, text)
    assert reply.status == 200
    body = reply.json()
    assert body["blocks"] and body["text"]


SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
SHIPPED = Path(__file__).resolve().parent.parent / "content"
ORIGINAL = {p.name: yaml.safe_load(p.read_text()) for p in SHIPPED.glob("*.yaml")}
junk = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.booleans(),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mangled_content_is_reported_never_crashes(tmp_path_factory, data):
    file = data.draw(st.sampled_from(sorted(ORIGINAL)))
    doc = copy.deepcopy(ORIGINAL[file])
    path = data.draw(st.sampled_from([p for p in _paths(doc) if p]))
    value = data.draw(junk)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    target = tmp_path_factory.mktemp("mangled") / "content"
    shutil.copytree(SHIPPED, target)
    # libyaml's emitter where there is one: the same safe YAML, written in a tenth of the pure-Python time
    (target / file).write_text(yaml.dump(doc, Dumper=SAFE_DUMPER, allow_unicode=True))
    try:
        load_content(target)
    except ContentError as exc:
        assert exc.problems and all(p.startswith(str(target)) for p in exc.problems)
    except Exception as exc:  # pragma: no cover - the failure we are looking for
        pytest.fail(f"{file} {path} = {value!r} crashed the loader: {exc!r}")
