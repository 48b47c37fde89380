"""Jobs: declared inputs, outputs and params (plain metadata), and a graph of pure steps.

Importing a job module never imports pyspark: a job's `steps()` imports its transforms when
the job runs, so Airflow and the CLI can read names, tables and params cheaply.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

from common.contracts import Table
from common.errors import ParamError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["Param", "Step", "step", "Job", "RunParams", "parse_ds", "ds_range", "MAX_RANGE_DAYS", "REQUIRED"]

REQUIRED: Any = object()
_DS = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_JOB_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_PARSERS: dict[type, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    date: date.fromisoformat,
    bool: lambda raw: {"true": True, "false": False}[raw.lower()],
}


def parse_ds(raw: str) -> date:
    """The run date, strictly YYYY-MM-DD."""
    if not isinstance(raw, str) or not _DS.match(raw):
        raise ParamError(f"ds {raw!r} is not a date: use --ds YYYY-MM-DD, e.g. --ds 1995-03-15")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ParamError(f"ds {raw!r} is not a calendar date: use --ds YYYY-MM-DD") from None


MAX_RANGE_DAYS = 366  # a backfill over more days must say --force: a typo in a year costs a cluster day


def ds_range(ds_from: str, ds_to: str, *, force: bool = False) -> list[str]:
    """Every run date from `ds_from` to `ds_to`, both included, or a ParamError naming the fix."""
    first, last = parse_ds(ds_from), parse_ds(ds_to)
    if first > last:
        raise ParamError(f"--ds-from {ds_from} is after --ds-to {ds_to}: give the earlier day first")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS and not force:
        raise ParamError(f"--ds-from {ds_from} --ds-to {ds_to} spans {days} days, more than {MAX_RANGE_DAYS}: "
                         "narrow the range, or add --force if that many partitions are meant")
    return [date.fromordinal(first.toordinal() + i).isoformat() for i in range(days)]


@dataclass(frozen=True)
class Param:
    name: str
    type: type = str
    default: Any = REQUIRED
    description: str = ""

    def __post_init__(self) -> None:
        if self.type not in _PARSERS:
            raise TypeError(f"param {self.name}: type must be one of {sorted(t.__name__ for t in _PARSERS)}")

    def parse(self, raw: str) -> Any:
        try:
            return _PARSERS[self.type](raw)
        except (ValueError, KeyError):
            raise ParamError(f"param {self.name}={raw!r} is not a valid {self.type.__name__}") from None


@dataclass(frozen=True)
class RunParams:
    """The run date, the days the run computes and the job's params, frozen; read as attributes
    (`p.ds`, `p.days`, `p.top_n`).

    `days` is every ds the run computes, in order: `(ds,)` for one day. A `range_plan` job's
    steps compute all of them in one plan (its `ds` is then the first); each day is published
    with a RunParams of its own ds and the same days."""

    ds: str
    values: Mapping[str, Any] = field(default_factory=dict)
    days: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.days:
            object.__setattr__(self, "days", (self.ds,))
        elif self.ds not in self.days:
            raise ParamError(f"ds {self.ds} is not one of the run's days {self.days[0]}..{self.days[-1]}")

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        raise AttributeError(f"no param {name!r}; declared: {', '.join(sorted(values)) or 'none'}")

    @property
    def ds_date(self) -> date:
        return date.fromisoformat(self.ds)

    def as_dict(self) -> dict[str, Any]:
        return {"ds": self.ds, "days": list(self.days), **self.values}


@dataclass(frozen=True)
class Step:
    """One pure transform applied to named inputs or earlier steps, with keyword params."""

    fn: Callable[..., DataFrame]
    inputs: tuple[str, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    cache: bool = False
    origin: str = ""  # where the logic is written, when not in `fn` (a SqlJob's .sql file)

    @property
    def where(self) -> str:
        """`module.function (file:line)`, for error messages."""
        if self.origin:
            return self.origin
        fn = inspect.unwrap(self.fn)
        name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        try:
            line = inspect.getsourcelines(fn)[1]
            return f"{name} ({inspect.getsourcefile(fn)}:{line})"
        except (OSError, TypeError):
            return name

    def apply(self, frames: Mapping[str, DataFrame]) -> DataFrame:
        return self.fn(*(frames[name] for name in self.inputs), **self.kwargs)


def step(fn: Callable[..., DataFrame], *inputs: str, cache: bool = False, origin: str = "", **kwargs: Any) -> Step:
    """`step(revenue_by_nation, "enriched", top_n=10)`; `cache=True` marks a shared intermediate."""
    return Step(fn=fn, inputs=tuple(inputs), kwargs=MappingProxyType(dict(kwargs)), cache=cache, origin=origin)


class Job:
    """Base of every job. Subclasses declare metadata and return their step graph.

    `steps()` maps a step name to a Step; every output name must be a step. Steps take input
    names (keys of `inputs`) or earlier step names.

    `range_plan = True` declares that the steps compute every day of `p.days` in one plan:
    each output is partitioned by `ds` and its DataFrame carries `ds` (string YYYY-MM-DD), the
    day each row belongs to. A backfill (`run --ds-from --ds-to`) then reads the inputs and
    caches the shared steps once for the whole range, and publishes each day as its own
    version; a one-day run is the same with `p.days == (p.ds,)`. Without it (the default) a
    backfill runs the steps once per day, in one session, each for its `p.ds`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    inputs: ClassVar[Mapping[str, Table]] = MappingProxyType({})
    outputs: ClassVar[Mapping[str, Table]] = MappingProxyType({})
    params: ClassVar[tuple[Param, ...]] = ()
    range_plan: ClassVar[bool] = False
    registry: ClassVar[dict[str, type[Job]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.name:  # an abstract base such as SqlJob
            return
        if not _JOB_NAME.match(cls.name):
            raise ValueError(f"job name {cls.name!r} must be dotted lower snake case, e.g. 'tpch.q01'")
        if not cls.outputs:
            raise ValueError(f"job {cls.name} declares no outputs")
        clash = set(cls.inputs) & set(cls.outputs)
        if clash:
            raise ValueError(f"job {cls.name}: {sorted(clash)} named both as input and output")
        reserved = sorted({"ds", "days"} & {p.name for p in cls.params})
        if reserved:
            raise ValueError(f"job {cls.name}: {reserved[0]!r} is the run's dates (p.ds, p.days), not a param")
        if not isinstance(cls.range_plan, bool):
            raise ValueError(f"job {cls.name}: range_plan must be True or False, not {cls.range_plan!r}")
        if cls.range_plan:
            for alias, table in cls.outputs.items():
                if "ds" not in table.contract.run_date_columns:
                    raise ValueError(
                        f"job {cls.name} declares range_plan, but output {alias} ({table.name}) is not partitioned "
                        "by ds: add Column('ds', 'string', nullable=False) and partition_by=('ds',) to its contract, "
                        "or drop range_plan"
                    )
        known = Job.registry.get(cls.name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"job name {cls.name} is used by {known.__module__} and {cls.__module__}")
        Job.registry[cls.name] = cls

    def steps(self, p: RunParams) -> Mapping[str, Step]:
        raise NotImplementedError(f"{type(self).__name__} must define steps()")

    @classmethod
    def parse_params(cls, ds: str, raw: Mapping[str, str], days: Sequence[str] | None = None) -> RunParams:
        """The run's params from their text; `days` (default `(ds,)`) every ds the run computes."""
        parse_ds(ds)
        for day in days or ():
            parse_ds(day)
        declared = {p.name: p for p in cls.params}
        unknown = sorted(set(raw) - set(declared))
        if unknown:
            hint = ", ".join(sorted(declared)) or "none"
            raise ParamError(f"job {cls.name} has no param {unknown[0]!r}; its params: {hint}")
        values: dict[str, Any] = {}
        for name, param in declared.items():
            if name in raw:
                values[name] = param.parse(raw[name])
            elif param.default is REQUIRED:
                raise ParamError(f"job {cls.name} needs --param {name}=<{param.type.__name__}>")
            else:
                values[name] = param.default
        return RunParams(ds=ds, values=MappingProxyType(values), days=tuple(days or (ds,)))

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Plain metadata, for the CLI, Airflow and docs."""
        return {
            "name": cls.name,
            "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
            "inputs": {alias: t.name for alias, t in cls.inputs.items()},
            "outputs": {alias: t.name for alias, t in cls.outputs.items()},
            "range_plan": cls.range_plan,
            "params": {
                p.name: {"type": p.type.__name__, "default": None if p.default is REQUIRED else str(p.default)}
                for p in cls.params
            },
        }
