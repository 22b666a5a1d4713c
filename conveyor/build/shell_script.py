"""The bash a `ShellSession` runs: the driver loop each of its shells starts with, and each batch of commands.

The driver moves bash's stdin to a descriptor of its own (the batches arrive there), gives the commands /dev/null as
stdin, and opens the descriptors the session's own lines write to: status markers, in order with the commands'
output on the same pipe, and a wake-up pipe. It then sources each batch it is sent. After a batch (and when the
shell exits) it writes one byte to the wake-up pipe, so the session, which lets a run of quick commands fill the
output pipe before it reads, learns at once that the batch is over.

A marker is a line `<token> <kind> <batch> <index> <status>`, preceded by a newline so it starts a line of its own:
S (the batch's first command starts), R (a command ended; when it succeeded the next one starts), D (the batch
ended: sourcing it returned) and X (the shell exited, its state saved for the next shell).
"""

from __future__ import annotations

import shlex
from pathlib import Path

MARKER_FD = 93  # where status markers go; far above the descriptors scripts commonly redirect
NULL_FD = 94  # /dev/null, opened once: every command's stdin, and where the session's own tracing goes
CHANNEL_FD = 95  # the batches Conveyor sends (bash's stdin moved here, so the commands' stdin is /dev/null)
# One byte per ended batch or exited shell: the session's reader waits on it between reads. Below the others: bash
# keeps a descriptor it redirects (`2>&94`) on the first free one above the target, which a closed 96 would be.
WAKE_FD = 92
_NOT_RESTORED = (
    "BASH* SHELLOPTS EUID UID PPID PWD OLDPWD SHLVL _ FUNCNAME GROUPS DIRSTACK PIPESTATUS LINENO RANDOM SECONDS "
    "SRANDOM EPOCHSECONDS EPOCHREALTIME HISTCMD COMP_WORDBREAKS OPTIND OPTARG IFS PS4 __cv_*"
)


def batch_script(batch: int, commands: list[str], token: str) -> str:
    """The batch as a script the session's bash sources: markers around each command, stop at the first failure.

    Every command is evaluated at the top level of the session's shell (not in a function, and not on the left of
    `||`, where bash would ignore `set -e` inside it), so `declare`, `cd`, assignments and `set -e` behave as they
    would typed at a prompt. Only the first command has a start marker: a command's successful end marker also says
    the next one starts. The line after a command is one `case` on its status, its trace (under the user's
    `set -x`) sent to /dev/null: bash parses that line for every command, slowly, so it is kept to one compound
    command. The user's `set -x` is taken up again once per batch; the driver turns it off (and remembers it)
    between batches.
    """
    parts = [f'__cv_mark S "{batch} 0" 0\n', 'case "$__cv_x" in *x*) set -x ;; esac\n']
    for index, command in enumerate(commands):
        parts.append(
            f"eval {shlex.quote(command)}\n"
            f"{{ case $? in 0) printf '\\n%s R {batch} {index} 0\\n' {token} >&{MARKER_FD} ;;"
            f" *) __cv_mark R '{batch} {index}' $?; return 0 ;; esac; }} 2>&{NULL_FD}\n"
        )
    return "".join(parts)


def driver(token: str, state_file: Path, *, restore: bool, wake: int) -> str:
    """The script a shell of the session starts with (`bash -c`); `wake` is the descriptor it inherits for WAKE_FD."""
    state = shlex.quote(str(state_file))
    skip = "|".join(_NOT_RESTORED.split())
    lines = [
        *([] if wake == WAKE_FD else [f"exec {WAKE_FD}>&{wake} {wake}>&-"]),
        f"exec {MARKER_FD}>&1 {NULL_FD}<>/dev/null {CHANNEL_FD}<&0 0<&{NULL_FD}",
        f'__cv_mark() {{ printf \'\\n%s %s %s %d\\n\' {token} "$1" "$2" "$3" >&{MARKER_FD}; }}',
        f"__cv_wake() {{ {{ printf . >&{WAKE_FD}; }} 2>&{NULL_FD}; }}",
        "__cv_save() {",
        "  { declare -f",
        "    for __cv_n in $(compgen -v); do",
        f'      case "$__cv_n" in {skip}) ;; *) declare -p "$__cv_n" 2>/dev/null ;; esac',
        "    done",
        "    printf 'cd -- %q\\n' \"$PWD\"",
        f"  }} > {state} 2>/dev/null",
        "}",
        # `set -x` must trace the user's commands only: a traced marker would be read as a second status
        'trap \'{ __cv_rc=$?; set +x; } 2>/dev/null; __cv_save; __cv_mark X "0 0" "$__cv_rc"; __cv_wake\' EXIT',
        f"[ -f {state} ] && . {state} >/dev/null 2>&1" if restore else ":",
        "__cv_x=",
        f"while IFS= read -r -d '' -u {CHANNEL_FD} __cv_batch; do",
        '  . "${__cv_batch#* }"',  # a command's top-level `return` ends the batch early: D tells
        f"  {{ __cv_rc=$? __cv_x=$-; set +x; }} 2>&{NULL_FD}",
        '  __cv_mark D "${__cv_batch%% *} 0" "$__cv_rc"',
        "  __cv_wake",
        "done",
    ]
    return "\n".join(lines) + "\n"
