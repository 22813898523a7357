"""The ``decide:`` escape hatch of the golden case ``commands`` (``Wallet``'s ``Sweep``)."""

from __future__ import annotations

from typing import Any

from esgen.runtime import CommandMeta, CommandRejected


def sweep(state: Any, command: Any, meta: CommandMeta) -> list[Any]:
    """Debit the whole balance; an empty wallet has nothing to sweep."""
    from gen_commands.wallet import Debited

    if state.balance == 0:
        raise CommandRejected("nothing to sweep")
    return [Debited(amount=state.balance)]
