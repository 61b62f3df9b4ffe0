#!/usr/bin/env python3
"""Run a command and print its peak resident memory, split into the process's own (anonymous) memory and the
file-backed pages it maps (for a git reader: the pack and index files), in KiB.

  peak_rss.py CMD [ARG...]    prints: "<peak RssAnon> <peak RssFile> <peak VmHWM>"

The split is sampled from /proc/<pid>/status every 2 ms (Linux only), so a short-lived peak may be missed by a
little; VmHWM is the kernel's own peak of the total. The command's output is discarded.
"""

import subprocess
import sys
import time


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = {"RssAnon": 0, "RssFile": 0, "VmHWM": 0}
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                for line in status:
                    key, _, value = line.partition(":")
                    if key in peak:
                        peak[key] = max(peak[key], int(value.split()[0]))
        except (OSError, ValueError, IndexError):
            pass  # the process ended between the poll and the read
        time.sleep(0.002)
    print(peak["RssAnon"], peak["RssFile"], peak["VmHWM"])


if __name__ == "__main__":
    main()
