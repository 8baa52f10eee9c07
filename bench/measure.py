"""One measured window: drive load with wrk or bench.loadgen (pinned to the rig's cores) while
reading what the gateway's worker processes spent (CPU time, core busy, RSS) in that window."""

from __future__ import annotations

import shlex
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench import wrk
from bench.loadgen import Target
from bench.procs import RSSSampler, core_busy, core_times, cpu_seconds, pinned


@dataclass
class Snapshot:
    cpu: float
    cores: dict[str, tuple[int, int]]

    @classmethod
    def take(cls, pids: Sequence[int]) -> Snapshot:
        return cls(cpu_seconds(pids), core_times())


@dataclass
class Rig:
    """Where the load comes from, and a log of every command line it ran."""

    root: Path
    tmp: Path
    cpus: str | None
    generator: str  # "wrk" or "python"
    secrets: dict[str, str] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)

    def _log(self, cmd: Sequence[str]) -> None:
        line = shlex.join(cmd)
        for secret, name in self.secrets.items():
            line = line.replace(secret, name)
        if line not in self.commands:
            self.commands.append(line)

    # -- windows --------------------------------------------------------------------------

    def requests(
        self,
        t: Target,
        concurrency: int,
        duration: float,
        warmup: float,
        watch: Sequence[int] = (),
        generator: str | None = None,
    ) -> dict:
        if (generator or self.generator) == "wrk":
            return self._wrk(t, concurrency, duration, warmup, watch)
        return self._python("requests", t, concurrency, duration, warmup, watch)

    def streams(
        self, t: Target, concurrency: int, duration: float, warmup: float, watch: Sequence[int] = ()
    ) -> dict:
        return self._python("streams", t, concurrency, duration, warmup, watch)

    def burst(self, t: Target, n: int, ramp: float, watch: Sequence[int] = ()) -> dict:
        return self._python("burst", t, n, 0.0, 0.0, watch, ramp=ramp)

    # -- generators -----------------------------------------------------------------------

    def _wrk(self, t: Target, c: int, duration: float, warmup: float, watch: Sequence[int]):
        script = wrk.write_script(t.body.decode(), t.headers, self.tmp)
        if warmup > 0:
            cmd = pinned(wrk.command(t.url, script, c, warmup), self.cpus)
            subprocess.run(cmd, capture_output=True, text=True, check=False)
        cmd = pinned(wrk.command(t.url, script, c, duration), self.cpus)
        self._log(cmd)
        with RSSSampler(watch) as rss:
            before = Snapshot.take(watch)
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            after = Snapshot.take(watch)
        result = wrk.parse(out.stdout, c, duration, warmup)
        result["generator"] = "wrk"
        return self._account(result, before, after, rss, watch)

    def _python(
        self,
        mode: str,
        t: Target,
        c: int,
        duration: float,
        warmup: float,
        watch: Sequence[int],
        ramp: float = 1.0,
    ):
        cmd = [
            sys.executable,
            "-m",
            "bench.loadgen",
            "--mode",
            mode,
            "--url",
            t.url,
            "--body",
            t.body.decode(),
            "--format",
            t.fmt,
            "-c",
            str(c),
        ]
        for name, value in t.headers.items():
            cmd += ["--header", f"{name}: {value}"]
        if t.expect_tokens is not None:
            cmd += ["--expect-tokens", str(t.expect_tokens)]
        if mode == "burst":
            cmd += ["--ramp", str(ramp)]
        else:
            cmd += ["-d", str(duration), "--warmup", str(warmup)]
        cmd = pinned(cmd, self.cpus)
        self._log(cmd)
        snaps: dict[str, Snapshot] = {}
        proc = subprocess.Popen(cmd, cwd=self.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stderr: list[bytes] = []

        def read_marks() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.startswith(b"mark "):
                    snaps[line[5:].strip().decode()] = Snapshot.take(watch)
                else:
                    stderr.append(line)

        reader = threading.Thread(target=read_marks, daemon=True)
        reader.start()
        with RSSSampler(watch) as rss:
            assert proc.stdout is not None
            stdout = proc.stdout.read()  # not communicate(): the thread owns stderr
            proc.wait()
            reader.join()
        if proc.returncode != 0 or not stdout.strip():
            raise RuntimeError(f"loadgen failed ({proc.returncode}): {b''.join(stderr)[-2000:]!r}")
        result = orjson.loads(stdout)
        result["generator"] = "python"
        end = snaps.get("end") or Snapshot.take(watch)
        return self._account(result, snaps.get("start"), end, rss, watch)

    @staticmethod
    def _account(
        result: dict,
        before: Snapshot | None,
        after: Snapshot,
        rss: RSSSampler,
        watch: Sequence[int],
    ) -> dict:
        if not watch:
            return result
        result["gateway_peak_rss_mb"] = rss.peak_mb
        if before is None:
            return result
        seconds = result.get("duration_s") or result.get("wall_s") or 0
        cpu = after.cpu - before.cpu
        done = result.get("completed") or 0
        result["gateway_cpu_pct"] = round(100 * cpu / seconds, 1) if seconds else None
        # CPU time per request barely moves with noise from other processes: the fairest
        # single number for comparing gateway changes.
        result["gateway_cpu_us_per_req"] = round(1e6 * cpu / done) if done else None
        result["core_busy_pct"] = core_busy(before.cores, after.cores)
        return result
