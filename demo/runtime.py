"""What the running demo shares between its parts: the fake POK server the home page controls."""

fake_pok = None
