"""The benchmark suite: `make bench` (python -m bench). Figures, not pass/fail tests."""
