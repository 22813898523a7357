"""Fold rules of ``schemas/shop/order.yaml`` that the definition format cannot express."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from esgen.runtime import EventMeta
    from generated.shop.order import OrderCancelled, OrderState


def cancel_order(state: OrderState, event: OrderCancelled, meta: EventMeta) -> OrderState:
    """Cancel an order that has not shipped yet; a shipped order stays as it is."""
    from generated.shop.order import OrderStatus

    if state.status is OrderStatus.SHIPPED:
        return state
    return dataclasses.replace(
        state, status=OrderStatus.CANCELLED, cancel_reason=event.reason or None
    )
