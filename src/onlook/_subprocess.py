"""Stopping a child process within a bound: ask first, then kill."""

from __future__ import annotations

import signal
import subprocess

__all__ = ["stop_process"]


def stop_process(proc: subprocess.Popen, *, grace_s: float = 10.0, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` (SIGTERM; SIGINT for a clean Ctrl-C), wait ``grace_s``, then kill and reap."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
