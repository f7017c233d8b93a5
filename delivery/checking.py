"""The pipeline's check step for a front end: where the answer's edit would
go (the edit delivery's own plan), checked by ``engine/checks``.

Only edits are checked (review's quick fixes are checked where the review is
delivered); a front end that cannot apply edits (the terminal) has the edit
checked all the same, since the code it shows is the code a user pastes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from assistant_router.engine.results import TaskError
from assistant_router.routing.tasks import Delivery

if TYPE_CHECKING:
    from assistant_router.delivery.target import Target
    from assistant_router.engine.checks.stage import CheckReport
    from assistant_router.engine.pipeline import Answer


async def check(answer: Answer, target: Target) -> CheckReport | None:
    """The checks of ``answer``'s edit; None when it is not an edit here."""
    from assistant_router.delivery import edit
    from assistant_router.engine.checks.stage import Proposal, check_proposal, run_commands

    request = answer.request
    if request.spec.delivery is not Delivery.EDIT:
        return None
    settings = request.policy.checks
    try:
        planned = await edit.plan(answer, target)
    except TaskError:
        return None  # it cannot be placed at all: the delivery says why
    document = request.document
    relative = document.relative or document.file_name
    if planned.test_file:
        relative = planned.edit.uri.rsplit("/", 1)[-1]
    proposal = Proposal(planned.edit.uri, document.language, relative, planned.before, planned.after,
                        planned.changed_lines)
    report = await asyncio.to_thread(check_proposal, proposal, settings)
    return await run_commands(report, proposal, request.policy, document.root)
