"""Connections to the engines the kit runs on: DuckDB in this process, Spark locally or on a
cluster. Nothing is started at import time; Spark's packages are imported only when asked."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

import ibis
from ibis.backends import BaseBackend

from segmentation.config import config_section, load_config
from segmentation.errors import EngineUnavailableError, InvalidOptionError

__all__ = ["ENGINES", "REPORT_ENGINES", "check_engine", "connect", "spark_session"]

#: The engines :func:`connect` knows.
ENGINES: tuple[str, ...] = ("duckdb", "spark")
#: Where a report's snapshots can run: the pandas path or an engine.
REPORT_ENGINES: tuple[str, ...] = ("pandas", *ENGINES)


def connect(
    engine: str = "duckdb",
    *,
    session: Any = None,
    config: Mapping[str, Any] | None = None,
) -> BaseBackend:
    """An Ibis connection to ``engine``.

    Parameters
    ----------
    engine : {"duckdb", "spark"}, default "duckdb"
        DuckDB runs in this process (config ``engine.duckdb_database``, in memory by
        default; its memory bounded by ``engine.duckdb_memory_limit``). Spark uses
        ``session`` when given (a cluster's), else starts a local session as config
        ``engine.spark`` says (``local[2]``).
    session : pyspark.sql.SparkSession, optional
        An existing Spark session; only with ``engine="spark"``.
    config : mapping, optional
        The merged config (:func:`segmentation.config.load_config`); the built-in one when
        omitted.

    Returns
    -------
    ibis.backends.BaseBackend

    Raises
    ------
    InvalidOptionError
        When ``engine`` is not one of :data:`ENGINES`.
    EngineUnavailableError
        When Spark is asked for but pyspark or a Java runtime is missing.
    """
    settings = config_section(config if config is not None else load_config(), "engine")
    if engine == "duckdb":
        return ibis.duckdb.connect(
            settings["duckdb_database"], memory_limit=str(settings["duckdb_memory_limit"])
        )
    if engine == "spark":
        return ibis.pyspark.connect(session if session is not None else spark_session(settings))
    raise InvalidOptionError(
        f"engine: expected one of {', '.join(ENGINES)}, found {engine!r}; use duckdb on one "
        "machine or spark on a cluster."
    )


def check_engine(engine: str) -> None:
    """Refuse, before any work, an engine the kit does not know or cannot start here.

    Parameters
    ----------
    engine : str
        One of :data:`REPORT_ENGINES`.

    Raises
    ------
    InvalidOptionError
        When ``engine`` is not one of :data:`REPORT_ENGINES`.
    EngineUnavailableError
        When ``engine`` is spark and pyspark or a Java runtime is missing (one line saying
        what to install).
    """
    if engine not in REPORT_ENGINES:
        raise InvalidOptionError(
            f"engine: expected one of {', '.join(REPORT_ENGINES)}, found {engine!r}."
        )
    if engine == "spark":
        _spark_builder_class()
        _check_java()


def _spark_builder_class() -> Any:
    """pyspark's SparkSession, or a one-line error saying what to install."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise EngineUnavailableError(
            "engine spark: pyspark is not installed; run make test-setup (the test extras) "
            "or pip install 'segmentation[test]', or use --engine duckdb."
        ) from error
    return SparkSession


def _check_java() -> None:
    """A Java runtime on PATH or in JAVA_HOME, or a one-line error saying what to install."""
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise EngineUnavailableError(
            "engine spark: no Java runtime (no java on PATH, JAVA_HOME unset); run make "
            "test-setup as root or apt-get install openjdk-17-jre-headless, or use --engine "
            "duckdb."
        )


def spark_session(settings: Mapping[str, Any]) -> Any:
    """A Spark session as ``settings["spark"]`` says (``getOrCreate``: one per process).

    Parameters
    ----------
    settings : mapping
        The config's ``engine`` section; its ``spark`` part gives the master, the app name,
        the shuffle partitions, the session time zone and the driver's memory.

    Returns
    -------
    pyspark.sql.SparkSession

    Raises
    ------
    EngineUnavailableError
        When pyspark is not installed or no Java runtime is found.
    """
    SparkSession = _spark_builder_class()
    _check_java()
    spark = settings["spark"]
    builder = (
        SparkSession.builder.master(spark["master"])
        .appName(spark["app_name"])
        .config("spark.sql.shuffle.partitions", str(spark["shuffle_partitions"]))
        .config("spark.sql.session.timeZone", spark["session_time_zone"])
        .config("spark.driver.memory", spark["driver_memory"])
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
    )
    return builder.getOrCreate()
