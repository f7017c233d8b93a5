"""Delivering a finished answer: one module per delivery kind, each working
against the small :class:`~assistant_router.delivery.target.Target` interface
that every front end implements once. A new kind (inline completion items,
SARIF findings) is a new module and an entry in :func:`kinds`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from assistant_router.routing.tasks import Delivery

if TYPE_CHECKING:
    from assistant_router.delivery.target import Target
    from assistant_router.engine.checks.stage import CheckReport
    from assistant_router.engine.pipeline import Answer
    from assistant_router.engine.results import Delivered


def kinds() -> dict[Delivery, Callable[[Answer, Target], Awaitable[Delivered]]]:
    """Each delivery kind's module (imported here: they import this package)."""
    from assistant_router.delivery import diagnostics, document, edit, inline

    return {Delivery.EDIT: edit.deliver, Delivery.DIAGNOSTICS: diagnostics.deliver, Delivery.DOCUMENT: document.deliver,
            Delivery.INLINE: inline.deliver}


async def deliver(answer: Answer, target: Target) -> Delivered:
    """Deliver ``answer`` the way its task's row says, through ``target``."""
    return await kinds()[answer.request.spec.delivery](answer, target)


async def check(answer: Answer, target: Target) -> CheckReport | None:
    """The pipeline's check step: the checks of ``answer``'s edit (None when
    it makes no edit): see :mod:`~assistant_router.delivery.checking`."""
    from assistant_router.delivery import checking

    return await checking.check(answer, target)
