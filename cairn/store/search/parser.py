"""Recursive-descent parser for MLflow search filters and order-by clauses.

Grammar (keywords are case-insensitive; AND binds tighter than OR)::

    filter     := or_expr EOF
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := primary ("AND" primary)*
    primary    := "(" or_expr ")" | comparison
    comparison := key ( ("=" | "!=" | "<" | "<=" | ">" | ">=") value
                      | ("LIKE" | "ILIKE") string
                      | ["NOT"] "IN" "(" string ("," string)* ")"
                      | "IS" ["NOT"] "NULL" )
    key        := [prefix "."] name       -- e.g. metrics.acc, tags.`a b`, run_name, `Run name`
    value      := string | number         -- 'x', "x", 1, -2, .5, 1e-3
    order_by   := key ["ASC" | "DESC"] EOF

``prefix`` and the attribute names a key may use come from a :class:`Profile`; the split is on
the *first* dot only (``metrics.val.loss`` is metric ``val.loss``) and an unprefixed key is an
attribute. The result is a normalised :mod:`~cairn.store.search.ast` tree; every malformed or
disallowed input raises :class:`CairnError` (INVALID_PARAMETER_VALUE) naming the culprit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cairn.entities.errors import CairnError
from cairn.store.search.ast import OPS, And, Comparison, Expr, Or, OrderBy, Value
from cairn.store.search.lexer import Lexer, Token, clip
from cairn.store.search.profiles import (
    EXPERIMENTS,
    LOGGED_MODELS,
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    RUNS,
    Profile,
    ValueKind,
)

__all__ = [
    "EXPERIMENTS",
    "LOGGED_MODELS",
    "MODEL_VERSIONS",
    "REGISTERED_MODELS",
    "RUNS",
    "Profile",
    "parse_filter",
    "parse_order_by",
    "parse_order_bys",
    "check_order_by_count",
]

MAX_DEPTH = 64
MAX_COMPARISONS = 100
"""Comparisons in one filter: each is a subquery, and SQLite refuses an expression deeper
than 1,000."""
MAX_LIST_VALUES = 10_000
"""Values in all the ``IN`` lists of one filter: each is a bind parameter, and PostgreSQL
takes at most 65,535 in one statement."""
MAX_ORDER_BY = 20
"""Clauses in one ``order_by``: each may join a table, and SQLite joins at most 64."""
_COMPARATORS = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL"
_Target = tuple[str, str, ValueKind, frozenset[str]]  # entity, key, value kind, allowed ops


def parse_filter(text: str | None, profile: Profile) -> Expr | None:
    """Parse a search filter; None, empty or all-whitespace text means "no filter"."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise CairnError.invalid(f"Invalid filter {text!r}: expected a string")
    if not text.strip():
        return None
    return _Parser(text, profile, "Invalid filter").filter()


def parse_order_by(text: str, profile: Profile) -> OrderBy:
    """Parse one ``order_by`` clause such as ``metrics.m0 DESC``."""
    if not isinstance(text, str):
        raise CairnError.invalid(f"Invalid order_by clause {text!r}: expected a string")
    return _Parser(text, profile, "Invalid order_by clause").order_by()


def check_order_by_count(clauses: Sequence[object]) -> None:
    """At most :data:`MAX_ORDER_BY` ``order_by`` clauses."""
    if len(clauses) > MAX_ORDER_BY:
        raise CairnError.invalid(
            f"Invalid value for parameter 'order_by': {len(clauses)} clauses, at most "
            f"{MAX_ORDER_BY} are allowed"
        )


def parse_order_bys(texts: Sequence[object], profile: Profile) -> list[OrderBy]:
    """Parse a list of ``order_by`` clauses: at most :data:`MAX_ORDER_BY`."""
    check_order_by_count(texts)
    return [parse_order_by(text, profile) for text in texts]  # type: ignore[arg-type]


def _join(kind: type[And] | type[Or], items: list[Expr]) -> Expr:
    if len(items) == 1:
        return items[0]
    flat: list[Expr] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return kind(tuple(flat))


class _Parser:
    def __init__(self, source: str, profile: Profile, what: str) -> None:
        self.source = source
        self.profile = profile
        self.lexer = Lexer(source, what)
        self.tokens = self.lexer.tokens()
        self.i = 0
        self.comparisons = 0
        self.list_values = 0

    # -- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def kind(self) -> str:
        return self.tokens[self.i].kind

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "eof":
            self.i += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.kind() == "keyword" and self.tok.value in words

    def fail(self, detail: str) -> CairnError:
        return self.lexer.fail(detail)

    def describe(self, token: Token) -> str:
        return token.describe(self.source)

    def unexpected(self, expected: str) -> CairnError:
        token = self.tok
        if token.kind != "eof":
            return self.fail(
                f"unexpected token {self.describe(token)} at position {token.pos}; "
                f"expected {expected}"
            )
        after = f" after {self.describe(self.tokens[self.i - 1])}" if self.i else ""
        return self.fail(
            f"unexpected end of input{after} at position {token.pos}; expected {expected}"
        )

    def invalid(self, what: str, name: str, valid: list[str]) -> CairnError:
        return CairnError.invalid(
            f"Invalid {what} '{clip(name)}' in {self.lexer.quoted_source}; "
            f"valid: {', '.join(valid)}"
        )

    # -- entry points --------------------------------------------------------------------
    def filter(self) -> Expr:
        expr = self.or_expr(0)
        if self.kind() != "eof":
            raise self.unexpected("AND, OR or end of input")
        return expr

    def order_by(self) -> OrderBy:
        entity, key, _, _ = self.key(order=True)
        ascending = True
        token = self.tok
        if (
            token.kind == "ident"
            and token.prefix is None
            and token.value.upper() in ("ASC", "DESC")
        ):
            ascending = token.value.upper() == "ASC"
            self.advance()
        elif token.kind != "eof":
            raise self.unexpected("ASC, DESC or end of input")
        if self.kind() != "eof":
            raise self.unexpected("end of input")
        return OrderBy(entity, key, ascending)

    # -- expressions ---------------------------------------------------------------------
    def or_expr(self, depth: int) -> Expr:
        items = [self.and_expr(depth)]
        while self.at_keyword("OR"):
            self.advance()
            items.append(self.and_expr(depth))
        return _join(Or, items)

    def and_expr(self, depth: int) -> Expr:
        items = [self.primary(depth)]
        while self.at_keyword("AND"):
            self.advance()
            items.append(self.primary(depth))
        return _join(And, items)

    def primary(self, depth: int) -> Expr:
        if self.kind() != "(":
            return self.comparison()
        opening = self.advance()
        if depth >= MAX_DEPTH:
            raise self.fail(f"parentheses nested deeper than {MAX_DEPTH} at position {opening.pos}")
        if self.kind() == ")":
            raise self.fail(f"empty parentheses at position {opening.pos}")
        expr = self.or_expr(depth + 1)
        if self.kind() != ")":
            raise self.unexpected(f"')' to close '(' at position {opening.pos}")
        self.advance()
        return expr

    # -- comparisons ---------------------------------------------------------------------
    def key(self, *, order: bool) -> _Target:
        token = self.tok
        quoted_key = token.kind == "string" and self.source[token.pos] == '"'
        if token.kind != "ident" and not quoted_key:
            raise self.unexpected("a key such as metrics.<name> or an attribute name")
        self.advance()
        profile, key = self.profile, token.value
        entity = "attribute"
        if token.prefix is not None:
            found = profile.entity_for_prefix(token.prefix.lower())
            usable = found == "attribute" or (
                found is not None and (not order or profile.entity(found).orderable)
            )
            if found is None or not usable:
                what = "order_by entity" if order else "entity"
                raise self.invalid(what, token.prefix, profile.prefixes(orderable=order))
            entity = found
            if not key:
                raise self.fail(f"missing key after '{token.prefix}.' at position {token.pos}")
        if entity == "attribute":
            attribute = profile.attribute(key)
            if attribute is None or not (attribute.orderable if order else attribute.filterable):
                raise self.invalid("attribute key", key, profile.attribute_names(orderable=order))
            return entity, attribute.name, attribute.kind, attribute.ops
        spec = profile.entity(entity)
        if spec.keys is not None and key not in spec.keys:
            raise self.invalid(f"{entity} key", key, sorted(spec.keys))
        return entity, key, spec.kind, spec.ops

    def comparison(self) -> Comparison:
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.fail(f"more than {MAX_COMPARISONS} comparisons")
        entity, key, kind, allowed = self.key(order=False)
        op_token = self.tok
        op = self.operator()
        if op not in allowed:
            valid = ", ".join(o for o in OPS if o in allowed)
            raise self.fail(
                f"comparator '{op}' at position {op_token.pos} is not valid for "
                f"{entity} '{key}'; valid: {valid}"
            )
        value: Value
        if op in ("IS NULL", "IS NOT NULL"):
            value = None
        elif op in ("IN", "NOT IN"):
            value = self.string_list()
        else:
            value = self.value(entity, key, "string" if op in ("LIKE", "ILIKE") else kind)
        return Comparison(entity, key, op, value)

    def operator(self) -> str:
        token = self.tok
        if token.kind == "op":
            self.advance()
            return token.value
        if token.kind == "keyword" and token.value in ("LIKE", "ILIKE", "IN"):
            self.advance()
            return token.value
        if token.kind == "keyword" and token.value == "NOT":
            self.advance()
            if not self.at_keyword("IN"):
                raise self.unexpected("IN after NOT")
            self.advance()
            return "NOT IN"
        if token.kind == "keyword" and token.value == "IS":
            self.advance()
            negated = self.at_keyword("NOT")
            if negated:
                self.advance()
            if not self.at_keyword("NULL"):
                raise self.unexpected(
                    "NULL after IS NOT" if negated else "NULL or NOT NULL after IS"
                )
            self.advance()
            return "IS NOT NULL" if negated else "IS NULL"
        raise self.unexpected(f"a comparator ({_COMPARATORS})")

    def value(self, entity: str, key: str, kind: ValueKind) -> str | int | float:
        token = self.tok
        if token.kind not in ("string", "number"):
            raise self.unexpected("a value")
        self.advance()
        if kind == "string":
            if token.kind != "string":
                raise self.fail(
                    f"expected a quoted string for {entity} '{key}', found {self.describe(token)} "
                    f"at position {token.pos}"
                )
            return token.value
        if token.kind != "number":
            raise self.fail(
                f"expected a number for {entity} '{key}', found {self.describe(token)} "
                f"at position {token.pos}"
            )
        return self.number(token)

    def number(self, token: Token) -> int | float:
        text = token.value
        try:
            if any(c in text for c in ".eE"):
                number: int | float = float(text)
                if not math.isfinite(number):
                    raise ValueError(text)
                return number
            whole = int(text)
            if not -(2**63) <= whole < 2**63:  # beyond every integer column
                raise ValueError(text)
            return whole
        except ValueError:
            raise self.fail(
                f"number {self.describe(token)} at position {token.pos} is out of range"
            ) from None

    def string_list(self) -> tuple[str, ...]:
        if self.kind() != "(":
            raise self.unexpected("'(' starting a list of quoted strings")
        opening = self.advance()
        if self.kind() == ")":
            raise self.fail(f"empty list at position {opening.pos}")
        values: list[str] = []
        while True:
            if self.kind() != "string":
                raise self.unexpected("a quoted string in the list")
            values.append(self.advance().value)
            self.list_values += 1
            if self.list_values > MAX_LIST_VALUES:
                raise self.fail(f"more than {MAX_LIST_VALUES} values in its IN lists")
            if self.kind() == ")":
                self.advance()
                return tuple(values)
            if self.kind() != ",":
                raise self.unexpected("',' or ')' in the list")
            self.advance()
