"""``python -m demo``: run the demo host until Ctrl-C (see demo.host)."""

from demo.host import main

main()
