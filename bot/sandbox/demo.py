"""Demo data for the sandbox: a workspace that has used ladderbot for a year, so /growth team, the digest and
/growth org show real numbers at first sight.

Written through the bot's own storage functions (plans.save_plan, follows.invite and answer_invite,
digest_plans.set_digest, plans.add_reflection, evidence's add_evidence) and its models for the past weeks'
nudges, in one session.
Seeded from a fixed random seed: the same demo on every start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.content.records import Content
from bot.evidence import store
from bot.growth import plans
from bot.sandbox.workspace import MANAGER, PEOPLE, REPORTS, TEAM_ID, DemoPerson
from bot.schedule import next_occurrence, week_key
from bot.storage.models import Delivery, Person
from bot.team import digest_plans, follows

WEEKS = 52
SEED = 12

REFLECTIONS = (
    "Paired with a newer teammate on the flaky test suite; explaining the why made me see two gaps myself.",
    "Wrote the design doc for the retry queue before coding. Review took a day, saved a week.",
    "Skipped the hard conversation about scope this week. Next week I bring it up in planning.",
    "Led the incident review. Kept it blameless; we got three concrete follow-ups.",
    "Read the threat model of our auth service and found an unhandled token replay case.",
    "Shipped the pagination change behind a flag and measured before turning it on.",
    "Asked for feedback on my code reviews: too terse. Trying to explain the reason for each comment.",
    "Broke the migration into three deploys; nobody noticed, which was the point.",
)


# wins logged over the year (evidence, issue 14), so /growth team counts them and /growth evidence lists them
EVIDENCE = (
    "Led the incident review for the checkout outage and wrote the three follow-ups into the backlog.",
    "Designed the retry queue for payment webhooks; the design doc was reviewed by two teams.",
    "Mentored a new teammate through their first on-call week.",
    "Added tracing to the search API and cut its p95 latency by a third.",
    "Ran the threat model for the login flow and fixed a token replay gap.",
    "Split the monolith's billing module out behind a feature flag, with no downtime.",
    "Wrote the runbook for database failover and tested it in a game day.",
    "Presented the team's quarterly roadmap to product and sales.",
)


@dataclass(frozen=True)
class DemoSummary:
    """What was written, for the log line and the tests."""

    people: int
    plans: int
    deliveries: int
    reflections: int
    shared_reflections: int
    accepted_follows: int
    evidence: int
    pending_invites: tuple[str, ...]  # reports the manager will invite once the server runs (a real DM)


def seed(session_factory: sessionmaker[Session], content: Content, now: datetime) -> DemoSummary:
    """Write the demo workspace's year into an empty database, committed in one go."""
    rng = random.Random(SEED)
    counts = {"plans": 0, "deliveries": 0, "reflections": 0, "shared": 0, "accepted": 0, "evidence": 0}
    prompt_ids = [p.id for p in content.prompts] or ["reflect"]
    with session_factory.begin() as session:
        people: dict[str, Person] = {}
        for demo in PEOPLE:
            person = plans.ensure_person(session, TEAM_ID, demo.user_id)
            person.tz = demo.tz
            person.first_seen_at = now - timedelta(weeks=WEEKS + 1)
            person.welcomed_at = None if demo.is_admin else person.first_seen_at  # Ada is new: she gets the welcome
            people[demo.user_id] = person
        session.flush()
        for demo in PEOPLE:
            if not demo.level:
                continue
            _plan_and_history(session, content, people[demo.user_id], demo, now, rng, prompt_ids, counts)
            _evidence(session, content, people[demo.user_id], now, rng, counts)
        # the manager follows the first four reports (accepted a while ago); the fifth is invited once the
        # server runs, through /growth team add, so the invitation DM is a real one to answer; the last one is
        # left for whoever tries the sandbox to invite
        accepted, pending = REPORTS[:4], REPORTS[4:5]
        outcomes = follows.invite(session, TEAM_ID, MANAGER.user_id, [r.user_id for r in accepted], now=now)
        for report, outcome in zip(accepted, outcomes, strict=True):
            assert outcome.follow_id is not None
            follows.answer_invite(session, TEAM_ID, report.user_id, outcome.follow_id, True, now=now)
            counts["accepted"] += 1
        digest_plans.set_digest(session, TEAM_ID, MANAGER.user_id, True, now=now)
    return DemoSummary(
        people=len(PEOPLE),
        plans=counts["plans"],
        deliveries=counts["deliveries"],
        reflections=counts["reflections"],
        shared_reflections=counts["shared"],
        accepted_follows=counts["accepted"],
        evidence=counts["evidence"],
        pending_invites=tuple(r.user_id for r in pending),
    )


def _plan_and_history(
    session: Session,
    content: Content,
    person: Person,
    demo: DemoPerson,
    now: datetime,
    rng: random.Random,
    prompt_ids: list[str],
    counts: dict[str, int],
) -> None:
    """A plan started a year ago, and a nudge for each week since: most answered, some skipped, some
    ignored; a reflection on some of the answered ones, a few of them shared with followers."""
    areas = [a.id for a in content.growth_areas]
    focus = rng.sample(areas, k=min(2, len(areas)))
    started = now - timedelta(weeks=WEEKS)
    plan = plans.save_plan(session, content, person, level=demo.level, target=None, focus=focus, now=started)
    counts["plans"] += 1
    keen = 0.55 + 0.4 * rng.random()  # how often this person answers
    due = next_occurrence(plan.weekday, plan.local_time, plan.tz, started)
    while due < now:
        roll = rng.random()
        answer = "done" if roll < keen else ("skipped" if roll < keen + 0.15 else None)
        delivery = Delivery(
            person_id=person.id,
            week_key=week_key(due, plan.tz),
            prompt_id=rng.choice(prompt_ids),
            due_at=due,
            status="sent",
            attempts=1,
            sent_at=due + timedelta(seconds=rng.randint(1, 40)),
            answer=answer,
            answered_at=due + timedelta(hours=rng.randint(1, 30)) if answer else None,
        )
        session.add(delivery)
        session.flush()
        counts["deliveries"] += 1
        if answer == "done" and rng.random() < 0.3:
            shared = rng.random() < 0.4
            reflection = plans.add_reflection(session, person, delivery.id, rng.choice(REFLECTIONS), shared)
            reflection.created_at = delivery.answered_at or due
            counts["reflections"] += 1
            counts["shared"] += int(shared)
        due = next_occurrence(plan.weekday, plan.local_time, plan.tz, due + timedelta(minutes=1))
    if demo.away:  # on leave: nudges paused for a few weeks
        plans.pause(session, person, 3, now=now)
    else:
        plans.reschedule(plan, now)


def _evidence(
    session: Session, content: Content, person: Person, now: datetime, rng: random.Random, counts: dict[str, int]
) -> None:
    """One to four wins logged over the year, mapped to the person's target level as the bot maps them."""
    for text in rng.sample(EVIDENCE, k=rng.randint(1, 4)):
        when = now - timedelta(days=rng.randint(3, 7 * WEEKS - 7))
        store.add_evidence(session, content, person, source="command", text=text, now=when)
        counts["evidence"] += 1
