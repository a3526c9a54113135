"""The `qstash-dev` command (`uvx qstash-dev dev`, `python -m qstash_dev dev`): runs the `qstash`
binary this distribution carries with every argument passed through, and exits as it exits."""

import os
import subprocess
import sys

from qstash_dev import binary_path


def main() -> None:
    binary = binary_path()
    argv = [binary, *sys.argv[1:]]
    if os.name != "nt":
        # Become the binary: signals, exit codes and the terminal are then its own.
        os.execv(binary, argv)
    sys.exit(subprocess.call(argv))


if __name__ == "__main__":
    main()
