"""Escape hatches of the evolution case (importable beside gen_evolution)."""
