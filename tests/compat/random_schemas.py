"""Random schema histories for differential testing against Java Avro.

``random_cases(n, seed)`` builds a random record (primitives, arrays, maps, unions, enums,
fixed, nested and recursive records, namespaces) and evolves it with the changes people make:
fields added or removed with or without defaults, types promoted, narrowed or wrapped in
unions, union branches added or removed, enum symbols and defaults changed, fixed sizes
changed, records, enums, fixed and fields renamed with or without aliases, namespaces changed,
fields reordered. Some results are invalid schemas on purpose (defaults that do not fit).
"""

from __future__ import annotations

import copy
import random
from typing import Any

PRIMITIVES = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]
CHANGED_PRIMITIVE = {
    "int": ["long", "float", "double"],
    "long": ["float", "double", "int"],
    "float": ["double", "long"],
    "double": ["float"],
    "string": ["bytes", "int"],
    "bytes": ["string"],
    "null": ["boolean"],
    "boolean": ["null"],
}


class _Generator:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counter = 0
        self.defined: list[str] = []

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}{self.counter}"

    def type_(self, depth: int) -> Any:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.45:
            return rng.choice(PRIMITIVES)
        r = rng.random()
        if r < 0.15:
            return {"type": "array", "items": self.type_(depth - 1)}
        if r < 0.25:
            return {"type": "map", "values": self.type_(depth - 1)}
        if r < 0.45:
            branches: list[Any] = []
            keys: set[str] = set()
            for _ in range(rng.randint(1, 3)):
                t = self.type_(0)
                key = t if isinstance(t, str) else t.get("name", t["type"])
                if key not in keys:
                    keys.add(key)
                    branches.append(t)
            return branches
        if r < 0.6:
            name = self.fresh("E")
            self.defined.append(name)
            symbols = rng.sample(["A", "B", "C", "D"], rng.randint(1, 4))
            enum: dict[str, Any] = {"type": "enum", "name": name, "symbols": symbols}
            if rng.random() < 0.3:
                enum["default"] = rng.choice(symbols)
            return enum
        if r < 0.7:
            name = self.fresh("F")
            self.defined.append(name)
            return {"type": "fixed", "name": name, "size": rng.choice([2, 4])}
        if r < 0.8 and self.defined:
            return rng.choice(self.defined)  # a reference, possibly recursive
        return self.record(depth - 1, ns=rng.choice([None, None, "com.b", ""]))

    def record(self, depth: int, name: str | None = None, ns: str | None = None) -> dict[str, Any]:
        name = name or self.fresh("R")
        record: dict[str, Any] = {"type": "record", "name": name}
        if ns is not None:
            record["namespace"] = ns
        self.defined.append(name)
        fields = []
        for i in range(self.rng.randint(0, 4)):
            t = self.type_(depth)
            f: dict[str, Any] = {"name": f"f{i}", "type": t}
            if isinstance(t, list) and t and t[0] == "null" and self.rng.random() < 0.5:
                f["default"] = None
            fields.append(f)
        record["fields"] = fields
        return record

    # -- evolution ----------------------------------------------------------------------------

    def change_type(self, t: Any) -> Any:
        rng = self.rng
        if isinstance(t, str):
            if t in CHANGED_PRIMITIVE and rng.random() < 0.7:
                return rng.choice(CHANGED_PRIMITIVE[t])
            if rng.random() < 0.5 and t != "null":
                return ["null", t]
            return t
        if isinstance(t, list):
            r = rng.random()
            if r < 0.3 and len(t) > 1:
                t = list(t)
                t.pop(rng.randrange(len(t)))
                return t
            if r < 0.6:
                extra = rng.choice(PRIMITIVES)
                if extra not in t:
                    return [*t, extra]
            if r < 0.8 and len(t) == 1:
                return t[0]
            return [self.change_type(b) if isinstance(b, str) else b for b in t]
        t = dict(t)
        kind = t["type"]
        if kind == "array":
            t["items"] = self.change_type(t["items"])
        elif kind == "map":
            t["values"] = self.change_type(t["values"])
        elif kind == "enum":
            self.change_enum(t)
        elif kind == "fixed":
            if rng.random() < 0.5:
                t["size"] += 1
            else:
                t["aliases"] = [t["name"]]
                t["name"] += "X"
        elif kind == "record":
            return self.change_record(t)
        return t

    def change_enum(self, t: dict[str, Any]) -> None:
        r = self.rng.random()
        symbols = list(t["symbols"])
        if r < 0.3:
            symbols.append(self.rng.choice([s for s in "ABCDEFG" if s not in symbols]))
        elif r < 0.6 and len(symbols) > 1:
            removed = symbols.pop(self.rng.randrange(len(symbols)))
            if t.get("default") == removed:
                t["default"] = symbols[0]
        elif r < 0.8:
            if "default" in t:
                del t["default"]
            else:
                t["default"] = symbols[0]
        else:
            t["aliases"] = [t["name"]]
            t["name"] += "X"
        t["symbols"] = symbols

    def change_record(self, record: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        record = copy.deepcopy(record)
        fields = record["fields"]
        for _ in range(rng.randint(1, 3)):
            r = rng.random()
            if r < 0.2:
                t = rng.choice(PRIMITIVES)
                f: dict[str, Any] = {"name": self.fresh("n"), "type": t}
                if rng.random() < 0.5:
                    f["default"] = default_for(t)
                fields.insert(rng.randint(0, len(fields)), f)
            elif r < 0.35 and fields:
                fields.pop(rng.randrange(len(fields)))
            elif r < 0.65 and fields:
                f = rng.choice(fields)
                f["type"] = self.change_type(f["type"])
                f.pop("default", None)
                if rng.random() < 0.3:
                    f["default"] = default_for(f["type"])
            elif r < 0.75 and fields:
                f = rng.choice(fields)
                old = f["name"]
                f["name"] = old + "r"
                if rng.random() < 0.7:
                    f["aliases"] = [old]
                if rng.random() < 0.1:  # an alias naming another field: ambiguous
                    f["aliases"] = [*f.get("aliases", []), rng.choice(fields)["name"]]
            elif r < 0.82 and fields:
                f = rng.choice(fields)
                if "default" in f:
                    del f["default"]
                else:
                    f["default"] = default_for(f["type"])
            elif r < 0.88:
                record["namespace"] = rng.choice(["com.a", "com.b", "com.c"])
            elif r < 0.94:
                old = record["name"]
                record["name"] = old + "N"
                if rng.random() < 0.7:
                    space = record.get("namespace") or "com.a"
                    record["aliases"] = [rng.choice([old, f"{space}.{old}", f"other.{old}"])]
            else:
                rng.shuffle(fields)
        return record


def default_for(t: Any) -> Any:
    """A plausible default for ``t`` (not always a valid one, on purpose)."""
    if isinstance(t, list):
        return default_for(t[0]) if t else None
    if isinstance(t, dict):
        kind = t["type"]
        if kind == "array":
            return []
        if kind == "map":
            return {}
        if kind == "enum":
            return t["symbols"][0]
        if kind == "fixed":
            return "x" * t["size"]
        if kind == "record":
            return None if t["fields"] else {}
        return default_for(kind)
    plain = {"null": None, "boolean": False, "int": 0, "long": 0, "float": 0.0, "double": 0.0}
    return plain.get(t, "")


def random_cases(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` histories: ``{"name", "previous": [...], "new"}``, the same for the same seed."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        gen = _Generator(rng)
        top = gen.record(3, name="Top", ns=rng.choice(["com.a", None]))
        if rng.random() < 0.2:
            top["fields"].append({"name": "next", "type": ["null", "Top"], "default": None})
        base: Any = top
        if rng.random() < 0.1:  # a top-level union, array or map around the record
            wrapper = rng.choice(["union", "array", "map"])
            base = (
                ["null", top]
                if wrapper == "union"
                else {"type": wrapper, ("items" if wrapper == "array" else "values"): top}
            )
            new = gen.change_type(base)
        else:
            new = gen.change_record(top)
        previous = [base] if rng.random() < 0.7 else [gen.change_type(base), base]
        cases.append({"name": f"random-{seed}-{i}", "previous": previous, "new": new})
    return cases
