"""`conveyor schedules next`: an expression's next fire times, one ISO 8601 time a line, with no server at all."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner, Result

from conveyor.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["schedules", "next", *args], catch_exceptions=False)


def test_prints_one_iso_time_a_line() -> None:
    result = run("cron(0 12 ? * MON-FRI *)", "--from", "2026-01-01T00:00:00Z", "--count", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "2026-01-01T12:00:00+00:00",
        "2026-01-02T12:00:00+00:00",
        "2026-01-05T12:00:00+00:00",
    ]


def test_times_are_on_the_zones_clock_and_a_time_without_offset_is_read_there() -> None:
    result = run("cron(30 2 * * ? *)", "--tz", "Europe/Paris", "--from", "2026-03-28T00:00", "--count", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00"]  # 29th: no 02:30
    standard = run("0 9 * * 1", "--tz", "America/New_York", "--from", "2026-01-01T00:00:00-05:00", "--count", "1")
    assert standard.stdout.splitlines() == ["2026-01-05T09:00:00-05:00"]
    rate = run("rate(90 minutes)", "--from", "2026-01-01T10:00:30Z", "--count", "2")
    assert rate.stdout.splitlines() == ["2026-01-01T11:30:00+00:00", "2026-01-01T13:00:00+00:00"]


def test_counts_from_now_by_default() -> None:
    before = datetime.now(UTC)
    result = run("rate(1 minute)")
    assert result.exit_code == 0, result.output
    times = [datetime.fromisoformat(line) for line in result.stdout.splitlines()]
    assert len(times) == 5
    assert before < times[0] < times[1] < times[2] < times[3] < times[4]


def test_an_invalid_expression_gives_the_reason_on_stderr_and_exit_1() -> None:
    result = run("cron(60 12 * * ? *)")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "error: invalid schedule expression 'cron(60 12 * * ? *)': Minutes: 60 is out of range 0-59"
    )
    rate = run("rate(2 hour)")
    assert (rate.exit_code, rate.stderr.strip()) == (
        1,
        "error: invalid schedule expression 'rate(2 hour)': rate unit: write 2 hours, not 2 hour",
    )


def test_other_mistakes_are_refused_with_the_reason() -> None:
    zone = run("rate(1 hour)", "--tz", "Europe/Pariss")
    assert (zone.exit_code, zone.stdout) == (1, "")
    assert "unknown time zone 'Europe/Pariss'" in zone.stderr
    start = run("rate(1 hour)", "--from", "yesterday")
    assert (start.exit_code, start.stdout) == (1, "")
    assert "--from 'yesterday' is not an ISO 8601 time" in start.stderr
    never = run("cron(0 0 1 1 ? 2020)", "--from", "2026-01-01T00:00:00Z")
    assert (never.exit_code, never.stdout) == (1, "")
    assert "never fires after 2026-01-01T00:00:00+00:00" in never.stderr
    assert run("rate(1 hour)", "--count", "0").exit_code == 2  # click's own usage error
