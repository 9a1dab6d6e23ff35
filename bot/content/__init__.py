"""The ladder content: frozen records, their validation, and the one YAML loader.

- records.py: the frozen, typed records (Content, Level, Area, Prompt, Question, ...) the rest of the code reads.
- validate.py: typed reads of parsed values that collect problems with file and path; ContentError.
- readers.py: one reader per content file, from parsed values to records.
- loader.py: load_content, the only place in the code base that reads YAML.

May import: the standard library, PyYAML (loader.py only) and its own modules; nothing else in bot/.
"""
