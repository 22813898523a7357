"""Command rules of ``schemas/bank/account.yaml`` that the definition format cannot express."""

from __future__ import annotations

from typing import TYPE_CHECKING

from esgen.runtime import CommandMeta, CommandRejected

if TYPE_CHECKING:
    from generated.bank.account import AccountEvent, AccountState, Transfer


def transfer(state: AccountState, command: Transfer, meta: CommandMeta) -> list[AccountEvent]:
    """Take a transfer's amount out of the account, within the owner's transfer limit.

    The limit lives in ``state.limits["transfer"]`` (in cents), a map lookup expressions
    cannot make. The invariant ``state.balance >= 0`` still refuses an overdraft.
    """
    from generated.bank.account import MoneyWithdrawn

    if command.to == meta.entity_id:
        raise CommandRejected("an account cannot transfer to itself")
    limit = state.limits.get("transfer")
    if limit is not None and command.amount * 100 > limit:
        raise CommandRejected("over the transfer limit")
    return [MoneyWithdrawn(amount=command.amount)]
