"""Child processes that cannot outlive their parent.

A worker or renderer child left running after its parent was killed (``kill -9``, an out-of-memory kill)
keeps working on a job that a restarted server has already re-queued, so the job runs twice. On Linux a
child asks the kernel to kill it when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere callers
fall back to watching ``os.getppid()``.
"""

from __future__ import annotations

import os
import signal
import sys

# From <linux/prctl.h>.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> bool:
    """Have the kernel send ``sig`` to this process when its parent dies; True where that is supported.

    Call it first thing in the child. The signal follows the parent *thread* that started the child, so
    that thread must live as long as the child. If the parent is already gone (it died before this
    call), the process exits at once with status 1.
    """
    armed = False
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
        except (OSError, AttributeError):  # no libc prctl (an unusual libc): fall back to polling
            armed = False
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    return armed
