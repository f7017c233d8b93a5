"""How much one request may hold, and how much of a document the engine reads.

Every limit here keeps the work of a request proportional to what it sends,
whatever the editor holds: a 50 MB generated file is as cheap to ask about
as a 50-line one. docs/context.md ("Limits") explains each to users; the
numbers are the only place they are written.
"""

from __future__ import annotations

# A selection longer than this is refused before anything is estimated: about
# 500,000 tokens, more than most models' windows hold.
MAX_SELECTION_CHARS = 2_000_000

# Documents up to this size are context as a whole; in a larger one the
# engine reads the selection and this much either side (cut at line ends),
# some 3,000 lines of code, more than any context budget sends. Secrets are
# learnt from that same window, so a key block that reaches into what is
# sent is always found whole (key blocks are a few kilobytes).
WHOLE_DOCUMENT_CHARS = 512_000
CONTEXT_REACH_CHARS = 128_000
LINE_SLACK_CHARS = 16_000  # how far the window may stretch to reach a line end
# Around a selection too long to parse (below), the window only needs to
# hold the key blocks that reach into it, and the line windows.
KEY_BLOCK_REACH_CHARS = 32_000

# Tree-sitter parses at most this much at once (a parse cannot be
# interrupted, and its tree takes some 35 bytes per character); beyond it,
# the context is line windows around the selection.
MAX_PARSE_CHARS = 512_000

# Other open documents searched for definitions the selection uses.
MAX_NEIGHBOURS = 16
MAX_NEIGHBOUR_CHARS = 256_000

# What a client may attach to one request.
MAX_DIAGNOSTICS = 100  # code actions forward at most this many; commands refuse more
MAX_DIAGNOSTIC_CHARS = 2_000  # a longer message is cut
MAX_PROMPT_CHARS = 32_000
MAX_WORKSPACE_FOLDERS = 100  # served at once; each has its own policy to load and watch

# Scans of long texts (secrets, token estimates) run over slices this long,
# so that no single regular-expression call holds the interpreter for long
# and the event loop keeps answering while a request is assembled.
SLICE_CHARS = 65_536
SLICE_OVERLAP_CHARS = 4_096  # a finding may straddle two slices
