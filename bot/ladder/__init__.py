"""/ladder and /interview: parsing command text and building the answers, with no I/O, so they run
inside the ack (about a millisecond; deterministic /ladder answers are cached).

- parse: normalise, the Vocabulary of level/area/dimension/topic phrases, text to frozen requests
- words: Spellings, the subcommand words of every slash command (longest match, did-you-mean);
  /growth's command table matches through it too
- answers: Answers, request to Message through bot.blocks; the Share and "Different questions" buttons

May import bot.blocks, bot.content, bot.ids and the standard library. Never bot.storage, Slack
clients, or any feature above it (growth, team, clock).
"""
