"""Data loading: real data sets that ship inside packages, and the user's own files."""
