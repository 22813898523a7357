"""The registry tests reuse the throwaway project of the project checker tests."""

from tests.check.conftest import project

__all__ = ["project"]
