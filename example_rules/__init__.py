"""Hand-written fold rules for the example domain (the ``call:`` escape hatch)."""
