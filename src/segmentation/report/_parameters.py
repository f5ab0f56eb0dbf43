"""One report run's parameters: what the command line takes, what every notebook gets and
what manifest.json records, in one typed object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from segmentation.errors import InvalidOptionError

__all__ = ["RunParameters", "resolve_horizon_days"]


def resolve_horizon_days(horizon_days: int | None, config: Mapping[str, Any]) -> int:
    """The backtest's held-out window: ``horizon_days`` when given (not None or 0), else the
    config's ``report.horizon_days``.

    Raises
    ------
    InvalidOptionError
        When the window is not a whole number of days, 1 or more.
    """
    days = horizon_days or config["report"]["horizon_days"]
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidOptionError(
            f"horizon_days: found {days!r}; give a whole number of days, 1 or more "
            "(--horizon-days, or report.horizon_days in a config override)."
        )
    return days


@dataclass(frozen=True, kw_only=True)
class RunParameters:
    """The parameters of one ``segmentation report`` run.

    Attributes
    ----------
    input_path : str
        An export file or folder; "" for the built-in ``dataset``.
    dataset : str
        "demo" or "cdnow", used when ``input_path`` is "".
    month : str
        ``YYYY-MM``; "" for the last complete month in the data.
    lang : str
        "zh" or "en".
    mapping, config : str
        Paths of a YAML column mapping and a config override; "" for none.
    random_state : int
        Seed of every model.
    horizon_days : int
        The backtest's held-out window; 0 until resolved from the config.
    demo_customers : int
        Size of the generated demo export.
    """

    input_path: str = ""
    dataset: str = "demo"
    month: str = ""
    lang: str = "zh"
    mapping: str = ""
    config: str = ""
    random_state: int = 0
    horizon_days: int = 0
    demo_customers: int = 5000

    @classmethod
    def of(
        cls,
        *,
        input_path: str | Path | None,
        mapping: str | Path | None,
        config: str | Path | None,
        month: str | None,
        horizon_days: int | None,
        **values: Any,
    ) -> RunParameters:
        """Build from the Python API's optional values (None for "not given")."""
        return cls(
            input_path=str(input_path or ""),
            mapping=str(mapping or ""),
            config=str(config or ""),
            month=month or "",
            horizon_days=horizon_days or 0,
            **values,
        )

    def resolved(self, config: Mapping[str, Any]) -> RunParameters:
        """The same run with ``horizon_days`` taken from ``config`` when it was not given."""
        return replace(self, horizon_days=resolve_horizon_days(self.horizon_days, config))

    def notebook_parameters(self, *, prepared_dir: Path, month: str) -> dict[str, Any]:
        """What papermill passes each notebook's ``parameters`` cell."""
        values = asdict(self)
        values.update(prepared_dir=str(prepared_dir.resolve()), month=month)
        return values

    def manifest(self, *, month: str) -> dict[str, Any]:
        """The ``parameters`` of manifest.json: None where a value was not given."""
        built_in = not self.input_path
        return {
            "input": self.input_path or None,
            "dataset": self.dataset if built_in else None,
            "month": month,
            "lang": self.lang,
            "mapping": self.mapping or None,
            "config": self.config or None,
            "random_state": self.random_state,
            "horizon_days": self.horizon_days,
            "demo_customers": self.demo_customers if built_in and self.dataset == "demo" else None,
        }
