"""Keys a person presses in a terminal, for pexpect-driven tests."""

from __future__ import annotations

import time

# A person presses Ctrl-C some time after a prompt appears, when the program is blocked reading the terminal.
# A SIGINT that lands in the instant between printing a prompt and entering read() is recorded by Python but
# interrupts no system call, so the read then waits for a line: a race every terminal program has, not the
# behaviour under test.  Waiting a moment after the prompt is what a person does anyway.
HUMAN_PAUSE = 0.3


def press_ctrl_c(child) -> None:
    """Ctrl-C at the prompt the test just saw."""
    time.sleep(HUMAN_PAUSE)
    child.sendintr()
