"""The registry tests reuse the throwaway project of the compatibility tests."""

from tests.compat.conftest import project

__all__ = ["project"]
