"""Run the light pipeline steps in long-lived worker processes instead of a fresh Python per job.

Extraction, controls, ceilings, comparison (and the recording, time-resolved and encoding steps)
are many short jobs; as ``python -m`` shell jobs most of their time was start-up (importing numpy,
scipy, pandas, torch: 0.6 s of a 1.4 s comparison, 1.5 s of a 1.9 s extraction). Their rules are
``run:`` jobs that call :func:`run_step`, which hands the step to an idle worker (``python -m pipelines.workers``, started
when none is idle, so never more than the jobs running at once), each importing a module once for
all the jobs it runs. The workflow profile (``profiles/default``: ``force-use-threads``) makes
Snakemake run ``run:`` jobs in its own threads, so the workers live as long as the ``snakemake``
call; without it each job is a Snakemake process of its own, with a worker of its own, and the
results are the same.

A step run here is ``python -m <module> <argv>`` in a process of its own, one at a time: the same
outputs to the last bit (BLAS and OpenMP at one thread from the worker's start, as Snakemake sets
them for a one-thread shell job), its
own log file (headed by that command line, for rerunning it by hand), and a failure raises
:class:`StepFailed` with the step's message (a data error) or its traceback (anything else).
"""

from __future__ import annotations

import atexit
import json
import os
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterable

ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOTO_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")  # fmt: skip
_idle: list[subprocess.Popen] = []
_lock = threading.Lock()


class StepFailed(RuntimeError):
    """A step run by a worker failed (its message or traceback is in its log and in this error)."""


def _flatten(args: Iterable) -> list[str]:
    out: list[str] = []
    for a in args:
        if isinstance(a, str) or not hasattr(a, "__iter__"):
            out.append(str(a))
        else:  # Snakemake's named lists (input.records), lists, tuples
            out += _flatten(a)
    return out


def _start() -> subprocess.Popen:
    env = {**os.environ, **dict.fromkeys(ONE_THREAD, "1")}
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.workers"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip


def _send(worker: subprocess.Popen, request: str) -> None:
    worker.stdin.write(request)
    worker.stdin.flush()


@atexit.register
def _stop_idle() -> None:
    with _lock:
        workers, _idle[:] = list(_idle), []
    for w in workers:
        w.stdin.close()  # a worker ends at the end of its input
        w.wait()


def run_step(module: str, *args) -> None:
    """``python -m module *args`` in a worker (lists among ``args`` are flattened, as Snakemake's
    ``input.records``); a failure raises ``StepFailed`` naming the step and its log."""
    argv = _flatten(args)
    command = shlex.join([sys.executable, "-m", module, *argv])
    request = json.dumps({"module": module, "argv": argv, "command": command}) + "\n"
    with _lock:
        worker = _idle.pop() if _idle else None
    try:
        _send(worker := worker or _start(), request)
    except BrokenPipeError:  # an idle worker that has since been killed: start another
        _send(worker := _start(), request)
    reply = worker.stdout.readline()
    if not reply:  # killed (out of memory, a signal): not reused
        worker.wait()
        raise StepFailed(
            f"{module}: its worker ended (status {worker.returncode}) while running {command}"
        )
    with _lock:
        _idle.append(worker)
    result = json.loads(reply)
    if result["status"]:
        where = f"; log: {argv[argv.index('--log') + 1]}" if "--log" in argv[:-1] else ""
        raise StepFailed(
            f"{module} exited with status {result['status']}{where}\n{result.get('error', '')}"
        )


def _run(module: str, argv: list[str], command: str) -> dict:
    """Worker side: ``python -m module argv`` as a function call; its exit status (and a traceback
    for anything but a data error, which ``run_main`` turns into a message and status 1)."""
    import importlib
    import logging
    import traceback

    from pipelines import _io

    _io.STEP_COMMAND = command
    errors: list[str] = []  # the step's error messages, for the reply
    catch = logging.Handler(logging.ERROR)
    catch.emit = lambda record: errors.append(record.getMessage())
    logging.getLogger("bioalign").addHandler(catch)
    try:
        _io.run_main(importlib.import_module(module).main, argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        return {"status": code, "error": "\n".join(errors)}
    except Exception:
        logging.getLogger("bioalign").exception("%s failed", module)
        return {"status": 1, "error": traceback.format_exc()}
    finally:
        logging.getLogger("bioalign").removeHandler(catch)
        _io.STEP_COMMAND = None
        root = logging.getLogger()
        for handler in root.handlers[:]:  # close this step's log file
            root.removeHandler(handler)
            handler.close()
        sys.stderr.flush()
    return {"status": 0}


def serve() -> None:
    """Worker loop: one JSON request per input line, one JSON reply per output line. The step's
    own standard output goes to standard error, so it cannot corrupt a reply."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for line in sys.stdin:
        request = json.loads(line)
        replies.write(
            json.dumps(_run(request["module"], request["argv"], request["command"])) + "\n"
        )
        replies.flush()


if __name__ == "__main__":
    serve()
