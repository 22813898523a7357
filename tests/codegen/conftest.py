"""Puts each golden case's output on ``sys.path`` before the tests import it."""

import tests.codegen.support  # noqa: F401
