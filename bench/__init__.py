"""cardshare's benchmark: AWS calls, state transitions and time, measured on the embedded AWS (``make bench``)."""
