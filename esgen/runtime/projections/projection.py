"""What a user writes: a :class:`Projection` subclass whose methods, marked with
:func:`handles`, fold events into a read model.

::

    class Balances(Projection):
        entities = (account.ENTITY,)

        @handles(account.MoneyDeposited)
        def deposited(self, model, event, meta):
            model.put(meta.entity_id, model.get(meta.entity_id, Decimal(0)) + event.amount)

A handler is called as ``handler(model, event, meta)``: ``model`` is a
:class:`~esgen.runtime.models.ReadModel` (the batch's transaction, without the
bookkeeping), ``event`` today's generated class, ``meta`` its
:class:`~esgen.runtime.meta.EventMeta`. Handlers must be deterministic and touch only
the model: the model transaction is what makes their effect atomic with the
bookkeeping, and a replay must give the same model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

from esgen.runtime.descriptor import EntityDescriptor
from esgen.runtime.errors import EsgenError
from esgen.runtime.meta import EventMeta
from esgen.runtime.models import ReadModel

Handler = Callable[[ReadModel, Any, EventMeta], None]
"""A bound handler: ``handler(model, event, meta)``."""

F = TypeVar("F", bound=Callable[..., None])

_HANDLES_ATTR = "__esgen_handles__"


class ProjectionError(EsgenError):
    """The projection cannot go on (Kafka, the registry or the model store failed)."""


def handles(*event_classes: type) -> Callable[[F], F]:
    """Mark a method of a :class:`Projection` as the handler of these event classes.

    The method is called as ``method(model, event, meta)``.
    """
    if not event_classes:
        raise TypeError("handles() needs at least one event class")

    def mark(method: F) -> F:
        setattr(method, _HANDLES_ATTR, (*getattr(method, _HANDLES_ATTR, ()), *event_classes))
        return method

    return mark


class Projection:
    """Base class of projections; subclass it, list ``entities`` and mark handlers.

    ``name`` (default: the class name) identifies the projection in dead letters and in
    the CLI: give two projections that read the same topics different names. Events
    without a handler are recorded as applied and otherwise ignored.
    """

    name: ClassVar[str] = ""
    entities: ClassVar[Sequence[EntityDescriptor[Any, Any]]] = ()
    _handlers: ClassVar[dict[type, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__
        handlers: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                for event_class in getattr(value, _HANDLES_ATTR, ()):
                    handlers[event_class] = attribute
        known = {e.cls for entity in cls.entities for e in entity.events}
        unknown = [c.__name__ for c in handlers if c not in known]
        if unknown and cls.entities:
            raise TypeError(
                f"{cls.__name__} handles {', '.join(unknown)}, which are events of none of "
                f"its entities ({', '.join(e.name for e in cls.entities)})"
            )
        cls._handlers = handlers

    def handler_for(self, event_class: type) -> Handler | None:
        """The bound handler of an event class, or None."""
        attribute = self._handlers.get(event_class)
        return None if attribute is None else getattr(self, attribute)

    def setup(self, model: ReadModel) -> None:
        """Called in a transaction before the runner consumes (e.g. create SQL tables)."""

    def clear(self, model: ReadModel) -> None:
        """Called when a replay starts, after the store's own data was dropped: drop what
        the projection keeps outside the key-value model (e.g. its SQL tables)."""
