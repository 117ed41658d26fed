"""Cairn's metric API: downsampled series for charts.

``GET /api/v1/metrics/downsample`` answers, for every run × key, the points of the x window
grouped into at most ``width`` buckets (one per pixel column of the chart), each with its x
range, min, max, mean and count, computed by the database. A million-point series costs one
indexed range scan and about ``width`` rows on the wire; a spike of a single point is the
max of its bucket, so it is never averaged away. Zooming is asking again with ``x_min`` and
``x_max``: the same number of buckets over a narrower window, down to single points.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cairn.access import policy as p
from cairn.access.policy import requires
from cairn.entities.access import Permission
from cairn.entities.errors import CairnError
from cairn.entities.tracking import Axis, Buckets
from cairn.server.state import metrics

MAX_SERIES = 100
MIN_WIDTH = 1
MAX_WIDTH = 5000
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
        description="What was subtracted from the timestamps: the run's start time (ms) on "
        "the relative axis (its first point's time when it has none), else 0"
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
    x: Axis = Field(description="step, relative (ms since run start) or wall (epoch ms)")
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


def _series_out(run_id: str, key: str, b: Buckets) -> SeriesOut:
    return SeriesOut(
        run_id=run_id,
        key=key,
        x_offset=b.offset,
        point_count=sum(b.count),
        nan_count=b.nan_count,
        pos_inf_count=b.pos_inf_count,
        neg_inf_count=b.neg_inf_count,
        x_first=b.x_first,
        x_last=b.x_last,
        min=b.min,
        max=b.max,
        mean=b.mean,
        count=b.count,
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
) -> DownsampleOut:
    """Every run × key series cut into at most ``width`` buckets of the x window; NaN and
    ±Infinity are counted, not drawn. Unknown keys give empty series."""
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
        raise CairnError.invalid("Missing value for required parameter 'run_id'")
    if not keys or not all(keys):
        raise CairnError.invalid("Missing value for required parameter 'key'")
    if len(runs) * len(keys) > MAX_SERIES:
        raise CairnError.invalid(
            f"At most {MAX_SERIES} series (run_id × key) per request; got "
            f"{len(runs)} × {len(keys)} = {len(runs) * len(keys)}"
        )
    lo_arg, hi_arg = _bound("x_min", x_min), _bound("x_max", x_max)
    if lo_arg is not None and hi_arg is not None and lo_arg > hi_arg:
        raise CairnError.invalid(
            f"Parameter 'x_min' ({lo_arg}) must not be greater than 'x_max' ({hi_arg})"
        )
    found = await metrics(request).downsample(runs, keys, axis, width, lo_arg, hi_arg)
    series = [_series_out(one.run_id, one.key, one.buckets) for one in found.series]
    return DownsampleOut(
        x=axis,
        width=width,
        bucket_count=found.bucket_count,
        x_min=found.lo,
        x_max=found.hi,
        series=series,
    )
