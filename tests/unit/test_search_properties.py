"""Property tests: render random ASTs to filter text and parse them back; fuzz for crashes."""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from cairn.entities.errors import CairnError
from cairn.store.search.ast import And, Comparison, Expr, Or, OrderBy
from cairn.store.search.lexer import KEYWORDS
from cairn.store.search.parser import parse_filter, parse_order_by
from cairn.store.search.profiles import PROFILES, Profile

Rendered = tuple[Expr, str]
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./:]*")
_SPACE = st.sampled_from([" ", "  ", "\t", "\n", " \r\n "])
_CASE: list[Callable[[str], str]] = [str.upper, str.lower, str.title]


def render_string(value: str, quote: str, doubled: bool) -> str:
    escaped = value.replace("\\", "\\\\").replace(quote, quote * 2 if doubled else "\\" + quote)
    return f"{quote}{escaped}{quote}"


def render_name(name: str, plain_ok: bool) -> str:
    if plain_ok and _PLAIN.fullmatch(name) and name.upper() not in KEYWORDS:
        return name
    return "`" + name.replace("`", "``") + "`"


@st.composite
def strings(draw: st.DrawFn) -> tuple[str, str]:
    value = draw(st.text(max_size=12))
    return value, render_string(value, draw(st.sampled_from("'\"")), draw(st.booleans()))


@st.composite
def numbers(draw: st.DrawFn) -> tuple[int | float, str]:
    if draw(st.booleans()):
        integer = draw(st.integers(min_value=-(10**18), max_value=10**18))
        return integer, str(integer)
    number = draw(st.floats(allow_nan=False, allow_infinity=False))
    return number, repr(number)


@st.composite
def comparisons(draw: st.DrawFn, profile: Profile) -> Rendered:
    """A random valid comparison for ``profile`` and one of its many spellings."""
    targets = [e.name for e in profile.entities]
    attributes = [a for a in profile.attributes if a.filterable]
    entity = draw(st.sampled_from([*targets, "attribute"]))
    if entity == "attribute":
        attribute = draw(st.sampled_from(attributes))
        key, kind, ops = attribute.name, attribute.kind, attribute.ops
        spelling = draw(st.sampled_from((attribute.name, *attribute.aliases)))
        prefix = draw(st.sampled_from((None, *profile.attribute_prefixes)))
    else:
        spec = profile.entity(entity)
        kind, ops = spec.kind, spec.ops
        key = draw(st.sampled_from(sorted(spec.keys)) if spec.keys else st.text(min_size=1))
        spelling = key
        prefix = draw(st.sampled_from(spec.prefixes))
    name = render_name(spelling, plain_ok=draw(st.booleans()))
    left = name if prefix is None else f"{prefix}.{name}"
    op = draw(st.sampled_from(sorted(ops)))
    case = draw(st.sampled_from(_CASE))
    value: str | int | float | tuple[str, ...] | None
    if op in ("IS NULL", "IS NOT NULL"):
        value, right = None, case(op)
    elif op in ("IN", "NOT IN"):
        items = draw(st.lists(strings(), min_size=1, max_size=4))
        value = tuple(v for v, _ in items)
        right = f"{case(op)} ({', '.join(text for _, text in items)})"
    elif kind == "numeric" and op not in ("LIKE", "ILIKE"):
        value, text = draw(numbers())
        right = f"{op}{draw(_SPACE)}{text}" if draw(st.booleans()) else f"{op}{text}"
    else:
        value, text = draw(strings())
        right = f"{case(op)} {text}"
    return Comparison(entity, key, op, value), f"{left}{draw(_SPACE)}{right}"


@st.composite
def combined(draw: st.DrawFn, children: st.SearchStrategy[Rendered]) -> Rendered:
    kinds: list[type[And] | type[Or]] = [And, Or]
    kind = draw(st.sampled_from(kinds))
    parts = draw(st.lists(children, min_size=2, max_size=4))
    items: list[Expr] = []
    texts: list[str] = []
    for expr, text in parts:
        if isinstance(expr, kind):
            items.extend(expr.items)
        else:
            items.append(expr)
        needs_parens = kind is And and isinstance(expr, Or)
        texts.append(f"({text})" if needs_parens or draw(st.booleans()) else text)
    word = draw(st.sampled_from(_CASE))("and" if kind is And else "or")
    space = draw(_SPACE)
    return kind(tuple(items)), f"{space}{word}{space}".join(texts)


@st.composite
def filters(draw: st.DrawFn) -> tuple[Profile, Expr, str]:
    profile = draw(st.sampled_from(PROFILES))
    expr, text = draw(st.recursive(comparisons(profile), combined, max_leaves=12))
    return profile, expr, text


@given(filters())
@settings(max_examples=250)
def test_rendered_filter_parses_back(case: tuple[Profile, Expr, str]) -> None:
    profile, expr, text = case
    assert parse_filter(text, profile) == expr


@st.composite
def order_bys(draw: st.DrawFn) -> tuple[Profile, OrderBy, str]:
    profile = draw(st.sampled_from(PROFILES))
    entities = [e for e in profile.entities if e.orderable]
    attributes = [a for a in profile.attributes if a.orderable]
    use_entity = draw(st.booleans())
    if entities and use_entity:
        spec = draw(st.sampled_from(entities))
        key = draw(st.text(min_size=1))
        left = f"{draw(st.sampled_from(spec.prefixes))}.{render_name(key, draw(st.booleans()))}"
        entity = spec.name
    else:
        attribute = draw(st.sampled_from(attributes))
        entity, key = "attribute", attribute.name
        left = render_name(draw(st.sampled_from((key, *attribute.aliases))), draw(st.booleans()))
    direction = draw(st.sampled_from(["", "asc", "DESC", "Asc", "desc"]))
    text = f"{left}{draw(_SPACE)}{direction}" if direction else left
    return profile, OrderBy(entity, key, direction.upper() != "DESC"), text


@given(order_bys())
@settings(max_examples=300)
def test_rendered_order_by_parses_back(case: tuple[Profile, OrderBy, str]) -> None:
    profile, order_by, text = case
    assert parse_order_by(text, profile) == order_by


def _survives(text: str, profile: Profile) -> None:
    """Parsing either succeeds or raises CairnError -- never anything else."""
    messages: list[str] = []
    for parse in (parse_filter, parse_order_by):
        try:
            parse(text, profile)
        except CairnError as error:
            messages.append(error.message)
    assert all(messages)


_FRAGMENTS = st.sampled_from(
    [
        "metrics.a", "params.`p q`", "tags.", "`", "'", '"', "(", ")", ",", "=", "!=", "<",
        ">=", "AND", "or", "NOT", "IN", "is", "NULL", "LIKE", "1", "-2.5e3", ".5", "'x'",
        '"y"', "run_name", "created", "datasets.name", "\\", "ASC", "desc", "1e999", "9" * 30,
    ]
)  # fmt: skip


@given(st.text(), st.sampled_from(PROFILES))
@settings(max_examples=500)
def test_arbitrary_text_only_raises_cairn_error(text: str, profile: Profile) -> None:
    _survives(text, profile)


@given(st.lists(st.tuples(_FRAGMENTS, st.sampled_from(["", " "]))), st.sampled_from(PROFILES))
@settings(max_examples=500)
def test_token_soup_only_raises_cairn_error(parts: list[tuple[str, str]], profile: Profile) -> None:
    _survives("".join(fragment + space for fragment, space in parts), profile)


@given(filters(), st.data())
@settings(max_examples=200)
def test_mutated_filters_only_raise_cairn_error(
    case: tuple[Profile, Expr, str], data: st.DataObject
) -> None:
    profile, _, text = case
    cut = data.draw(st.integers(min_value=0, max_value=len(text)))
    insert = data.draw(st.text(max_size=3))
    skip = data.draw(st.integers(min_value=0, max_value=3))
    _survives(text[:cut] + insert + text[cut + skip :], profile)
