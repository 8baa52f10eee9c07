"""Instructions per request, counted by callgrind: ``python -m bench.instructions openai``.

CPU time moves with the VM (±10 to 15 % between runs minutes apart, more between machines), so a
change worth 2 % cannot be told from noise by timing. Instruction counts can: this runs
``bench.inprocess`` (same arguments) under ``valgrind --tool=callgrind`` with instrumentation
on for the measured part only, and prints the instructions executed per request by the
gateway's process (every thread: the event loop and the ledger writer). The fake upstream is
native, in its own process. Two runs of the same code agree within 1 to 2 %; compare two
versions with the same arguments. About 50x slower than native: keep ``-n`` small and ``-c`` low
enough that paced deltas still arrive one read each (``--delta-interval 0.05 -c 4`` does).

    python -m bench.instructions openai --stream -n 200 -c 10
    python -m bench.instructions openai --delta-interval 0.05 -n 100 -c 4   # the held path
    python -m bench.instructions --everything-on openai -n 200 -c 10 \
        --database-url postgres://postgres@127.0.0.1:5432/test   # with REDIS_URL set

``--everything-on`` (first) runs ``bench.everything_on`` instead: an API key with limits and
budgets on every request.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instructions(out_file: Path) -> int:
    """The total ``Ir`` of a callgrind output file (its ``totals:`` line: ``summary:`` stays 0
    when instrumentation was switched on during the run)."""
    text = out_file.read_text()
    found = re.search(r"^totals:\s+(\d+)", text, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no instruction total in {out_file}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-h" in argv or "--help" in argv or not argv:
        print(__doc__)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind (with callgrind_control) is needed: apt-get install valgrind")
        return 2
    module = "bench.inprocess"
    if argv[0] == "--everything-on":
        module, argv = "bench.everything_on", argv[1:]
    from bench.inprocess import parse_args

    args = parse_args(argv)  # checks them before the long run
    with tempfile.TemporaryDirectory(prefix="ai-instructions-") as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            module,
            *argv,
            "--callgrind",
        ]
        run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        line = next((x for x in run.stdout.splitlines() if "us CPU per request" in x), "")
        if run.returncode or not line:
            print(run.stdout[-2000:], run.stderr[-4000:], sep="\n")
            return run.returncode or 1
        requests = int(re.search(r"(\d+) requests", line).group(1))
        total = instructions(out)
    kind = "paced stream" if args.delta_interval else "stream" if args.stream else "request"
    if module != "bench.inprocess":
        kind += ", everything on"
    print(
        f"{args.provider} {kind}: {total / requests / 1e6:.3f} M instructions per request "
        f"({total:,} over {requests} requests; under callgrind: {line.split(': ', 1)[1]})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
