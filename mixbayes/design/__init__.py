"""Package part; see the architecture notes in docs/."""
