"""What every command line of the project shares: terminal output and progress (:mod:`clikit.console`) and the
output folders a command may write and replace (:mod:`clikit.outdir`).

Below both ``urbanstack`` and ``finance``: it imports neither, so the two command lines use it without leaning
on each other (``tests/test_architecture.py``).
"""
