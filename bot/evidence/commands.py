"""The evidence entries of the /growth table: `evidence [dimension or area]`, `evidence add <text>` and
`packet [target level]` (built and uploaded in the follow-up, off the ack). bot.services adds them to the
table after growth's own and the team's."""

from __future__ import annotations

from bot.blocks import growth as rg
from bot.evidence.desk import EvidenceDesk
from bot.growth import plans as growth
from bot.growth.commands import GrowthEntry, GrowthRequest, level_arg
from bot.growth.table import CommandInput, FollowUpAnswer, FollowUpRequest, Reply, Subcommand
from bot.ladder.parse import Vocabulary


def evidence_entries(desk: EvidenceDesk, vocab: Vocabulary) -> tuple[GrowthEntry, ...]:
    def listing(request: GrowthRequest, command: CommandInput) -> Reply:
        person = growth.ensure_person(request.session, request.team_id, request.user_id)
        return Reply(desk.list_message(request.session, person, " ".join(command.args)))

    def add(request: GrowthRequest, command: CommandInput) -> Reply:
        person = growth.ensure_person(request.session, request.team_id, request.user_id)
        return Reply(desk.add_from_command(request.session, person, command.rest, request.now))

    def packet(request: GrowthRequest, command: CommandInput) -> Reply:
        if command.args:
            level_arg(vocab, command.args, "packet")  # a wrong level is answered in the ack
        growth.ensure_person(request.session, request.team_id, request.user_id)
        return Reply(rg.build_text("Building your promotion packet…"), follow_up=True)

    def send_packet(request: FollowUpRequest) -> FollowUpAnswer:
        args = request.command.args
        level_id = level_arg(vocab, args, "packet") if args else None
        return FollowUpAnswer(desk.send_packet(request.client, request.team_id, request.user_id, level_id))

    return (
        Subcommand(
            "evidence",
            "`/growth evidence [dimension or area]`",
            "your evidence log, newest first (private to you)",
            listing,
            ("wins",),
        ),
        Subcommand(
            "evidence add",
            "`/growth evidence add <what you did>`",
            "log a win",
            add,
            ("win",),
        ),
        Subcommand(
            "packet",
            "`/growth packet [target level]`",
            "your promotion packet, as Markdown and PDF in your DM",
            packet,
            follow_up=send_packet,
        ),
    )
