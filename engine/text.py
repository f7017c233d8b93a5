"""Ranges and the text in them: the helpers every layer shares."""

from __future__ import annotations


def last_selected_line(start_line: int, end_line: int, end_character: int) -> int:
    """The last line a selection really covers: a selection that ends at the
    start of a line (as whole-line selections do) does not include that line."""
    if end_character == 0 and end_line > start_line:
        return end_line - 1
    return end_line
