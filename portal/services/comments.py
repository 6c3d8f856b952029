"""The comment of an actual: "why the number moved" and the next action, joined into one text.

The comment of an actual holds "why the number moved" and, after NEXT_ACTION_MARK, the next
action: one audited text field, readable as is in the API and the history. Joined for a write
(the grid, the upload), split again to show it.
"""

from __future__ import annotations

NEXT_ACTION_MARK = "\n▶ "


def join_comment(why: str, next_action: str) -> str:
    why, next_action = (why or "").strip(), (next_action or "").strip()
    return f"{why}{NEXT_ACTION_MARK}{next_action}" if next_action else why


def split_comment(comment: str) -> tuple[str, str]:
    why, _mark, next_action = (comment or "").partition(NEXT_ACTION_MARK)
    return why, next_action
