"""``python -m firebreak_cli`` is the same as the ``firebreak`` command."""

from firebreak_cli.app import main

main()
