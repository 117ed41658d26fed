"""Cairn's metric API: downsampled series for charts.

``GET /api/v1/metrics/downsample`` answers, for every run × key, the points of the x window
grouped into at most ``width`` buckets (one per pixel column of the chart), each with its x
range, min, max, mean and count, computed by the database. A million-point series costs one
indexed range scan and about ``width`` rows on the wire; a spike of a single point is the
max of its bucket, so it is never averaged away. Zooming is asking again with ``x_min`` and
``x_max``: the same number of buckets over a narrower window, down to single points.

``POST /api/v1/metrics/downsample/batch`` is the same over many runs × keys in one request
(an experiment's chart view: a thousand runs × ten metrics is ten requests, not a hundred),
bounded in series and in buckets per answer.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Permission
from cairn.entities.errors import CairnError
from cairn.entities.tracking import Axis, Buckets
from cairn.server.state import metrics
from cairn.server.wire import json_response
from cairn.services.metrics import Downsampled

MAX_SERIES = 100
MIN_WIDTH = 1
MAX_WIDTH = 5000
BATCH_MAX_RUNS = 1000
BATCH_MAX_KEYS = 50
BATCH_MAX_SERIES = 2000
BATCH_MAX_BUCKETS = 500_000
"""Series × width per batch answer: at most this many buckets (a few MB of JSON)."""
MAX_X = 2**53
"""|x_min| and |x_max| beyond this cannot be an exact step or millisecond."""


# a query parameter of the wrong type is FastAPI's RequestValidationError, answered 400 naming
# the field by the app's one validation formatter (cairn.server.errors), as on every route
READ = Permission.READ
router = APIRouter(prefix="/api/v1", tags=["metrics"])


class SeriesOut(BaseModel):
    """One run × key. The lists are parallel, one entry per non-empty bucket in x order:
    ``x_first``/``x_last`` are the smallest and largest x of the bucket's points, ``min``,
    ``max``, ``mean`` and ``count`` summarise their finite values."""

    run_id: str
    key: str
    x_offset: int = Field(
        description="What was subtracted from the timestamps: on the relative axis the time "
        "(ms) of the run's first point among the requested series, else 0"
    )
    point_count: int = Field(description="Finite points in the window")
    nan_count: int = Field(description="NaN points in the window (not drawn)")
    pos_inf_count: int = Field(description="+Infinity points in the window (not drawn)")
    neg_inf_count: int = Field(description="-Infinity points in the window (not drawn)")
    x_first: list[int]
    x_last: list[int]
    min: list[float]
    max: list[float]
    mean: list[float]
    count: list[int]


class DownsampleOut(BaseModel):
    x: Axis = Field(
        description="step, relative (ms since the run's first point) or wall (epoch ms)"
    )
    width: int = Field(description="The requested number of buckets")
    bucket_count: int = Field(description="Buckets the window was cut into (≤ width)")
    x_min: int | None = Field(description="The window: first x (None: no points at all)")
    x_max: int | None = Field(description="The window: last x")
    series: list[SeriesOut]


def _bound(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or abs(value) > MAX_X:
        raise CairnError.invalid(
            f"Parameter '{name}' must be a finite number of magnitude at most 2^53; got {value}"
        )
    return value


def _series_out(run_id: str, key: str, b: Buckets) -> dict[str, object]:
    """One :class:`SeriesOut`, as the dict it serialises to."""
    return {
        "run_id": run_id,
        "key": key,
        "x_offset": b.offset,
        "point_count": sum(b.count),
        "nan_count": b.nan_count,
        "pos_inf_count": b.pos_inf_count,
        "neg_inf_count": b.neg_inf_count,
        "x_first": b.x_first,
        "x_last": b.x_last,
        "min": b.min,
        "max": b.max,
        "mean": b.mean,
        "count": b.count,
    }


def _check(
    run_id: list[str],
    key: list[str],
    x: str,
    width: int,
    x_min: float | None,
    x_max: float | None,
    max_series: int,
    names: tuple[str, str] = ("run_id", "key"),
) -> tuple[list[str], list[str], Axis, float | None, float | None]:
    """The request's runs (deduplicated, in order), keys, axis and window, or a 400 naming the
    field."""
    try:
        axis = Axis(x)
    except ValueError:
        raise CairnError.invalid(
            f"Parameter 'x' must be one of step, relative, wall; got {x!r}"
        ) from None
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise CairnError.invalid(
            f"Parameter 'width' must be between {MIN_WIDTH} and {MAX_WIDTH}; got {width}"
        )
    runs = list(dict.fromkeys(r.strip() for r in run_id))
    keys = list(dict.fromkeys(key))
    if not runs or not all(runs):
        raise CairnError.invalid(f"Missing value for required parameter '{names[0]}'")
    if not keys or not all(keys):
        raise CairnError.invalid(f"Missing value for required parameter '{names[1]}'")
    if len(runs) * len(keys) > max_series:
        raise CairnError.invalid(
            f"At most {max_series} series ({names[0]} × {names[1]}) per request; got "
            f"{len(runs)} × {len(keys)} = {len(runs) * len(keys)}"
        )
    lo_arg, hi_arg = _bound("x_min", x_min), _bound("x_max", x_max)
    if lo_arg is not None and hi_arg is not None and lo_arg > hi_arg:
        raise CairnError.invalid(
            f"Parameter 'x_min' ({lo_arg}) must not be greater than 'x_max' ({hi_arg})"
        )
    return runs, keys, axis, lo_arg, hi_arg


def _answer(axis: Axis, width: int, found: Downsampled) -> Response:
    """The :class:`DownsampleOut` answer, serialised by orjson straight from the buckets'
    lists: a chart's 20,000 buckets are 120,000 numbers, which the response model's
    validation and the standard library's JSON encoder took a quarter of the request's CPU
    time to write. Every value is a finite float or an int (NaN and infinities are counted,
    never bucketed), so the JSON is the same."""
    return json_response(
        {
            "x": axis.value,
            "width": width,
            "bucket_count": found.bucket_count,
            "x_min": found.lo,
            "x_max": found.hi,
            "series": [_series_out(one.run_id, one.key, one.buckets) for one in found.series],
        }
    )


@router.get(
    "/metrics/downsample",
    response_model=DownsampleOut,
    summary="Metric series downsampled to a chart's width (min/max/mean per bucket)",
    responses={
        400: {"description": "A bad parameter, named in the message"},
        404: {"description": "An unknown run"},
    },
)
@requires(p.run(READ, "run_id"))
async def downsample(
    request: Request,
    run_id: Annotated[list[str], Query(description="Runs (repeat the parameter for several)")],
    key: Annotated[list[str], Query(description="Metric keys (repeat for several)")],
    x: Annotated[str, Query(description="The x axis: step, relative or wall")] = "step",
    width: Annotated[
        int, Query(description=f"Buckets per series, {MIN_WIDTH}..{MAX_WIDTH}")
    ] = 1000,
    x_min: Annotated[
        float | None, Query(description="Window start (inclusive); default: the data's")
    ] = None,
    x_max: Annotated[
        float | None, Query(description="Window end (inclusive); default: the data's")
    ] = None,
) -> Response:
    """Every run × key series cut into at most ``width`` buckets of the x window; NaN and
    ±Infinity are counted, not drawn. Unknown keys give empty series."""
    runs, keys, axis, lo_arg, hi_arg = _check(run_id, key, x, width, x_min, x_max, MAX_SERIES)
    found = await metrics(request).downsample(runs, keys, axis, width, lo_arg, hi_arg)
    return _answer(axis, width, found)


class DownsampleBatchIn(BaseModel):
    """Many runs × keys downsampled over one shared x window."""

    run_ids: list[str] = Field(
        description=f"1 to {BATCH_MAX_RUNS} run ids (duplicates dropped), from any experiments",
        max_length=BATCH_MAX_RUNS,
    )
    keys: list[str] = Field(
        description=f"1 to {BATCH_MAX_KEYS} metric keys (unknown keys give empty series)",
        max_length=BATCH_MAX_KEYS,
    )
    x: str = Field("step", description="The x axis: step, relative or wall")
    width: int = Field(
        200,
        description=f"Buckets per series, {MIN_WIDTH}..{MAX_WIDTH}; series × width at most "
        f"{BATCH_MAX_BUCKETS:,}",
    )
    x_min: float | None = Field(None, description="Window start (inclusive); default: the data's")
    x_max: float | None = Field(None, description="Window end (inclusive); default: the data's")

    model_config = ConfigDict(extra="forbid")


@router.post(
    "/metrics/downsample/batch",
    response_model=DownsampleOut,
    summary="Many runs × keys downsampled in one request (an experiment's chart view)",
    responses={
        400: {"description": "A bad field, named in the message"},
        404: {"description": "An unknown run"},
    },
)
@requires(p.run(READ, "run_ids"))
async def downsample_batch(request: Request, body: DownsampleBatchIn) -> Response:
    """As ``GET /api/v1/metrics/downsample``, for up to 2,000 series (run × key)
    in one request, all over one x window; series × width is bounded too, so a chart of many
    runs asks for fewer buckets per series."""
    runs, keys, axis, lo, hi = _check(
        body.run_ids,
        body.keys,
        body.x,
        body.width,
        body.x_min,
        body.x_max,
        BATCH_MAX_SERIES,
        ("run_ids", "keys"),
    )
    if len(runs) * len(keys) * body.width > BATCH_MAX_BUCKETS:
        raise CairnError.invalid(
            f"Field 'width' ({body.width}) times {len(runs) * len(keys)} series is more than "
            f"{BATCH_MAX_BUCKETS:,} buckets; ask for a smaller width or fewer series"
        )
    found = await metrics(request).downsample(runs, keys, axis, body.width, lo, hi)
    return _answer(axis, body.width, found)
