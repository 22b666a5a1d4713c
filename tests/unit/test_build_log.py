"""BuildLog: Conveyor's own lines stamped CodeBuild style, in order with the commands' output."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from conveyor.build.log import BuildLog

STAMP = re.compile(r"\[Container\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6}) ")


def at(text: str) -> int:
    """Nanoseconds since the epoch of `YYYY-MM-DDTHH:MM:SS.ffffff` UTC, plus 789 ns the stamp drops."""
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return (int(moment.timestamp()) * 1_000_000 + moment.microsecond) * 1000 + 789


def test_container_lines_are_stamped_in_utc_to_the_microsecond_across_seconds(tmp_path: Path) -> None:
    moments = iter(["2024-12-31T23:59:59.999999", "2025-01-01T00:00:00.000001", "2025-01-01T00:00:00.5"])
    log = BuildLog(tmp_path / "build.log", clock=lambda: at(next(moments)))

    for message in ("one", "two", "three"):
        log.container(message)
    log.close()

    assert (tmp_path / "build.log").read_text().splitlines() == [
        "[Container] 2024/12/31 23:59:59.999999 one",
        "[Container] 2025/01/01 00:00:00.000001 two",
        "[Container] 2025/01/01 00:00:00.500000 three",
    ]


def test_the_stamp_is_the_time_the_line_is_written(tmp_path: Path) -> None:
    log = BuildLog(tmp_path / "build.log")
    before = datetime.now(UTC).replace(tzinfo=None)
    log.container("now")
    after = datetime.now(UTC).replace(tzinfo=None)
    log.close()

    match = STAMP.match((tmp_path / "build.log").read_text())
    assert match is not None
    assert before <= datetime.strptime(match.group(1), "%Y/%m/%d %H:%M:%S.%f") <= after
